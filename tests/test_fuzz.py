"""Fuzzing from the description: schemathesis generates requests for every operation of
/api/v1/openapi.json and sends them to the live app, signed in as a user who owns an
organisation, a booking and a notification (so real ids are tried besides random ones).
No response may be a 5xx, and each one's status, media type, headers and body must be as
described. Bounded for `make test`; `make fuzz` runs longer with a random seed."""

import os
import subprocess
import sys

from helpers import slot

# Small enough for every `make test`; `make fuzz` raises both.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
MAX_SECONDS = int(os.environ.get("FUZZ_MAX_SECONDS", "60"))
SEED = os.environ.get("FUZZ_SEED", "20261127")
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")
# Logging out would revoke the fuzzer's own token and leave every later request a 401;
# tests/test_auth.py covers it.
EXCLUDED = ("auth_logout",)


def config(base_url, token, ids, seed):
    """A schemathesis.toml: the live app, our token, and the real ids to try half the time."""
    lines = [f'base-url = "{base_url}"', f"seed = {seed}" if seed else "",
             f'headers = {{ Authorization = "Bearer {token}" }}', "", "[parameters]"]
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in ids]
    for name, value in ids.items():
        lines += ["", f"[dictionaries.{name}]", f"values = [{value}]"]
    return "\n".join(lines) + "\n"


def test_fuzzing_finds_no_server_error_and_nothing_undescribed(client, live_server, register, org_of, db, tmp_path,
                                                                  capsys):
    owner, member = register("Owner"), register("Member")
    with db.cursor() as cur:
        cur.execute("UPDATE users SET role = 'admin' WHERE id = %s", (owner.id,))
    org = org_of(owner, member)
    booking = client.post("/api/v1/bookings", json=slot("10:00", "11:00") | {"attendees": [member.email]},
                          headers=owner.auth).json["booking"]
    client.post("/api/v1/analytics/event", json={"eventType": "fuzz.start"}, headers=owner.auth)
    client.patch(f"/api/v1/bookings/{booking['id']}/attendance", json={"status": "declined"}, headers=member.auth)
    notification = client.get("/api/v1/notifications", headers=owner.auth).json[0]
    ids = {"booking_id": booking["id"], "org_id": org["id"], "user_id": member.id,
           "notification_id": notification["id"]}
    toml = tmp_path / "schemathesis.toml"
    toml.write_text(config(live_server.url, owner.token, ids, SEED))

    command = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(toml), "run",
               live_server("/api/v1/openapi.json"), "--checks", CHECKS, "--phases", "coverage,fuzzing",
               "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_SECONDS), "--workers", "1",
               "--request-timeout", "10", "--no-shrink", "--output-truncate", "true",
               *[arg for op in EXCLUDED for arg in ("--exclude-operation-id", op)]]
    run = subprocess.run(command, capture_output=True, text=True, timeout=MAX_SECONDS + 120, cwd=tmp_path)
    output = run.stdout + run.stderr
    lines = output.splitlines()
    summary = lines[next((i for i, line in enumerate(lines) if "SUMMARY" in line), -15):]
    with capsys.disabled():
        print("\n" + "\n".join(f"[fuzz] {line}" for line in summary if line.strip()))
    assert run.returncode == 0, output[-20000:]
