"""Fuzzing from the description: schemathesis generates requests for every operation of
/api/v1/openapi.json and sends them to the live app, signed in as an admin who owns an
organisation with a team event type, a booking, a notification, a calendar feed, a booking link
a guest used, a webhook with a delivery, a schedule with an override and time off (each path
parameter gets a real value half the time, a generated one otherwise).
No response may be a 5xx; each one's status, media type, headers and body must be as
described; invalid input must be refused and valid input accepted (no operation may refuse
most of what its description allows: schemathesis's validation_mismatch warning fails the run),
a method the route lacks must say 405 with Allow, a route that needs a token must refuse
requests without one. For `make test` the run is bounded by examples, not time, so a fixed
seed gives the same requests on any machine; `make fuzz` runs for a time instead, with a
random seed and the stateful phase. tests/fuzz_hooks.py keeps the positive cases within the
rules the description states in words only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from booking_links import EVERY_DAY, TYPES, at, booked, local_day, slot_starts
from helpers import slot

# Small enough for every `make test` (about a minute); `make fuzz` raises it and adds a time
# budget (with one, schemathesis repeats the fuzzing phase until it is spent).
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
MAX_SECONDS = os.environ.get("FUZZ_MAX_SECONDS")
SEED = os.environ.get("FUZZ_SEED", "20261127")
# `make fuzz` adds the stateful phase (sequences of calls along links schemathesis infers).
PHASES = os.environ.get("FUZZ_PHASES", "coverage,fuzzing")
# Every check but ensure_resource_availability (stateful): it takes adding an unknown e-mail to
# a new organisation (404, no such user) for the organisation itself being missing.
CHECKS = os.environ.get("FUZZ_CHECKS", "all")
EXCLUDED_CHECKS = "ensure_resource_availability"
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
# Logging out would revoke the fuzzer's own token and leave every later request a 401;
# tests/test_auth.py covers it.
EXCLUDED = ("auth_logout",)


def config(base_url, token, values, seed):
    """A schemathesis.toml: the live app, our token, the real path values to try half the time,
    and an operation that mostly refuses what its description allows fails the run."""
    lines = [f'base-url = "{base_url}"', f"seed = {seed}" if seed else "",
             f'headers = {{ Authorization = "Bearer {token}" }}',
             'warnings = { fail-on = ["validation_mismatch"] }', "", "[parameters]"]
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in values]
    for name, value in values.items():
        lines += ["", f"[dictionaries.{name}]", f"values = [{json.dumps(value)}]"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def settings(settings):
    """The per-account limits off, so the fuzzer's many member adds, profile changes and calendar
    fetches reach validation and the handlers rather than a 429 (tests/test_enumeration.py and
    tests/test_calendars_api.py cover the limits)."""
    return settings.replace(member_add_rate_limit=0, profile_change_rate_limit=0, calendar_rate_limit=0)


@pytest.fixture
def world(client, register, set_profile, org_of, db, feeds):
    """An admin who owns an organisation with a team event type, a booking, a notification, a
    calendar feed, a booking link that a guest used, a webhook with a delivery, a connected
    calendar (served on this machine), a schedule with an override and time off: a real value
    for every path parameter, the admin, and what tests/fuzz_hooks.py must know: a booking the
    admin was invited to (the booker doesn't answer their own booking's invitation), the admin's
    default schedule (which is not deleted) and their other one, the calendar's URL, and the
    admin's id (a member who accepted the organisation, to host its types)."""
    owner, member = register("Owner"), register("Member")
    with db.cursor() as cur:
        cur.execute("UPDATE users SET role = 'admin' WHERE id = %s", (owner.id,))
    org = org_of(owner, member)
    webhook = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks", "events": ["booking.created"]},
                          headers=owner.auth).json["webhook"]
    booking = client.post("/api/v1/bookings", json=slot("10:00", "11:00") | {"attendees": [member.email]},
                          headers=owner.auth).json["booking"]
    invited_to = client.post("/api/v1/bookings", json=slot("12:00", "13:00") | {"attendees": [owner.email]},
                             headers=member.auth).json["booking"]
    delivery = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=owner.auth).json[0]
    calendar_url = feeds.serve("/fuzz.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Fuzz//EN\r\nEND:VCALENDAR\r\n")
    calendar = client.post("/api/v1/calendars", json={"kind": "ics", "url": calendar_url},
                           headers=owner.auth).json["calendar"]
    client.patch(f"/api/v1/bookings/{booking['id']}/attendance", json={"status": "declined"}, headers=member.auth)
    client.post("/api/v1/analytics/event", json={"eventType": "fuzz.start"}, headers=owner.auth)
    notification = client.get("/api/v1/notifications", headers=owner.auth).json[0]
    feed = client.post("/api/v1/users/me/calendar-feed", headers=owner.auth).json["url"]

    set_profile(owner, username="fuzzhost", working_hours=EVERY_DAY)
    event_type = client.post(TYPES, json={"slug": "intro", "title": "Intro", "duration": 30},
                             headers=owner.auth).json["event_type"]
    day = local_day(5)
    start = slot_starts(client, at(day, "00:00"), at(day, "23:59"), link="fuzzhost/intro")[0]
    guest = booked(client, start, link="fuzzhost/intro")
    schedule = client.post("/api/v1/schedules", json={"name": "Summer", "working_hours": EVERY_DAY},
                           headers=owner.auth).json["schedule"]
    [default] = [s for s in client.get("/api/v1/schedules", headers=owner.auth).json["schedules"] if s["default"]]
    client.put(f"/api/v1/schedules/{schedule['id']}/overrides/{day}", json={"hours": []}, headers=owner.auth)
    team_type = client.post(f"/api/v1/organizations/{org['id']}/event-types",
                            json={"slug": "team-intro", "title": "Team intro", "duration": 30, "kind": "round_robin",
                                  "hosts": [owner.id, member.id]}, headers=owner.auth).json["event_type"]
    time_off = client.post("/api/v1/users/me/time-off", json={"start": at(day, "20:00").isoformat(),
                                                              "end": at(day, "21:00").isoformat()},
                           headers=owner.auth).json["time_off"]
    return owner, {
        "booking_id": booking["id"], "org_id": org["id"], "user_id": member.id, "notification_id": notification["id"],
        "secret": feed.rpartition("/")[2].removesuffix(".ics"), "event_type_id": event_type["id"],
        "username": "fuzzhost", "slug": "intro", "token": guest["manage_token"],
        "endpoint_id": webhook["id"], "delivery_id": delivery["id"], "schedule_id": schedule["id"],
        "time_off_id": time_off["id"], "day": day.isoformat(), "calendar_id": calendar["id"],
        "type_id": team_type["id"],
    }, {"FUZZ_INVITED_BOOKING": str(invited_to["id"]), "FUZZ_DEFAULT_SCHEDULE": str(default["id"]),
        "FUZZ_SCHEDULE": str(schedule["id"]), "FUZZ_CALENDAR_URL": calendar_url, "FUZZ_TEAM_HOST": str(owner.id)}


def test_fuzzing_finds_no_server_error_and_nothing_undescribed(world, live_server, tmp_path, capsys):
    owner, values, facts = world
    toml = tmp_path / "schemathesis.toml"
    toml.write_text(config(live_server.url, owner.token, values, SEED))

    command = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(toml), "run",
               live_server("/api/v1/openapi.json"), "--checks", CHECKS, "--exclude-checks", EXCLUDED_CHECKS, "--phases", PHASES,
               "--max-examples", str(MAX_EXAMPLES), *(["--max-time", MAX_SECONDS] if MAX_SECONDS else []),
               "--workers", "1", "--request-timeout", "10", "--no-shrink", "--output-truncate", "true",
               *[arg for op in EXCLUDED for arg in ("--exclude-operation-id", op)]]
    # The hooks import the package's own text rules: the repository root on the path too.
    hooks = {"SCHEMATHESIS_HOOKS": HOOKS.stem, "PYTHONPATH": os.pathsep.join((str(HOOKS.parent), str(HOOKS.parent.parent))),
             "FUZZ_BASE_URL": live_server.url, **facts}
    run = subprocess.run(command, capture_output=True, text=True, timeout=int(MAX_SECONDS or 600) + 120,
                         cwd=tmp_path, env=os.environ | hooks)
    output = run.stdout + run.stderr
    lines = output.splitlines()
    summary = lines[next((i for i, line in enumerate(lines) if "SUMMARY" in line), -15):]
    with capsys.disabled():
        print("\n" + "\n".join(f"[fuzz] {line}" for line in summary if line.strip()))
    assert run.returncode == 0, output[-20000:]
