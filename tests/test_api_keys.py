"""API keys (docs/api-keys.md): made with a login token, used as a bearer credential within
their scopes, never more than their owner, revoked at once on every process."""

import hashlib
import http.client
import os
import re
import statistics
import time

import pytest

from bench.slow_clients import free_port, start_gunicorn, stop
from scheduler import access_keys, create_app
from scheduler.openapi import build
from scheduler.repositories import api_keys as key_rows
from scheduler.repositories.users import PUBLIC

KEYS = "/api/v1/api-keys"
COUNT = "/api/v1/notifications/count"
LOGIN_ONLY = {("post", "/api/v1/auth/logout"), ("get", "/api/v1/auth/verify"), ("patch", "/api/v1/users/me/password"),
              ("post", "/api/v1/users/me/calendar-feed"),
              ("post", "/api/v1/api-keys"), ("get", "/api/v1/api-keys"), ("delete", "/api/v1/api-keys/{key_id}")}
PATH_VALUES = {"day": "2030-01-07"}


def make_key(client, user, scopes, **fields):
    r = client.post(KEYS, json={"name": "CRM", "scopes": list(scopes)} | fields, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def token_operations(app):
    """(method, path, scope or None for login tokens only) for every operation a login token can call."""
    found = []
    for path, methods in build(app)["paths"].items():
        for method, operation in methods.items():
            security = operation["security"]
            if {"bearer": []} not in security or {} in security:
                continue
            [[scope]] = [s["apiKey"] for s in security if "apiKey" in s] or [[None]]
            found.append((method, path, scope))
    return found


def call(client, method, path, key):
    url = re.sub(r"{(\w+)}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)
    body = {"json": {}} if method in ("post", "put", "patch") else {}
    return client.open(url, method=method.upper(), headers=bearer(key), **body)


def test_making_a_key_shows_it_once_and_stores_only_its_hash(client, alice, db):
    made = make_key(client, alice, ["bookings:read", "bookings:read", "profile:read"])
    key, shown = made["key"], made["api_key"]
    assert re.fullmatch(r"schd_[0-9A-Za-z]{49}", key) and access_keys.well_formed(key)
    assert shown["scopes"] == ["bookings:read", "profile:read"] and shown["prefix"] == key[:13]
    assert shown["last_used_at"] is None and shown["expires_at"] is None and shown["organization_id"] is None
    assert shown["user_id"] == alice.id
    [listed] = client.get(KEYS, headers=alice.auth).json
    assert listed == shown
    with db.cursor() as cur:
        cur.execute("SELECT key_hash, api_keys::text FROM api_keys")
        [(stored, row)] = cur.fetchall()
    assert bytes(stored) == hashlib.sha256(key.encode()).digest() and key not in row and key[13:30] not in row


def test_a_keys_owner_is_read_as_a_login_tokens_owner_is(app, client, alice):
    """api_key_for_request spells out users.PUBLIC's columns: the two must not drift apart."""
    key = make_key(client, alice, ["profile:read"])["key"]
    with app.extensions["runtime"].db.single_statement() as cur:
        found = key_rows.find_for_request(cur, access_keys.key_hash(key))
    assert [name for name in found.keys() if not name.startswith("key_")] == [c.strip() for c in PUBLIC.split(",")]


def test_two_keys_are_never_alike():
    made = {access_keys.new_key() for _ in range(1000)}
    assert len(made) == 1000 and all(access_keys.well_formed(key) for key in made)


@pytest.mark.parametrize("body, field", [
    ({"scopes": ["bookings:read"]}, "name"),
    ({"name": "x"}, "scopes"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["bookings:delete"]}, "scopes.0"),
    ({"name": "x", "scopes": ["bookings:read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "x", "scopes": ["bookings:read"], "organization_id": 0}, "organization_id"),
    # Misspelt, a field would be ignored: a key that never expires, or a person's key.
    ({"name": "x", "scopes": ["bookings:read"], "expiresAt": "2031-01-01T00:00:00Z"}, "expiresAt"),
    ({"name": "x", "scopes": ["bookings:read"], "organisation_id": 1}, "organisation_id"),
])
def test_a_bad_key_request_is_400_and_makes_nothing(client, alice, body, field):
    r = client.post(KEYS, json=body, headers=alice.auth)
    assert r.status_code == 400 and field in r.json["fields"], r.json
    assert client.get(KEYS, headers=alice.auth).json == []


def test_every_operation_declares_the_scope_a_key_needs(app):
    operations = token_operations(app)
    assert {(method, path) for method, path, scope in operations if scope is None} == LOGIN_ONLY
    assert {scope for _, _, scope in operations if scope} == set(access_keys.SCOPES)


def test_each_scope_allows_exactly_its_operations(app, client, alice):
    """Table-driven over the OpenAPI description: a key with every scope but an operation's
    own is refused with that scope named; a key with only that scope gets past the check."""
    operations = token_operations(app)
    everything = make_key(client, alice, access_keys.SCOPES)["key"]
    all_but = {scope: make_key(client, alice, set(access_keys.SCOPES) - {scope})["key"] for scope in access_keys.SCOPES}
    only = {scope: make_key(client, alice, [scope])["key"] for scope in access_keys.SCOPES}
    for method, path, scope in operations:
        if scope is None:
            r = call(client, method, path, everything)
            assert r.status_code == 403 and "login token" in r.json["error"], (method, path, r.json)
            continue
        refused = call(client, method, path, all_but[scope])
        assert refused.status_code == 403 and refused.json["required_scope"] == scope, (method, path, refused.json)
        allowed = call(client, method, path, only[scope])
        assert allowed.status_code not in (401, 429) and "required_scope" not in (allowed.json or {}), \
            (method, path, allowed.status_code, allowed.json)


def test_a_webhook_or_a_calendar_written_to_needs_bookings_read_too(client, alice, receiver):
    """Either receives every booking: a key without bookings:read could read them through it."""
    hook = receiver()
    body = {"url": hook.url, "events": ["booking.created"]}
    without = make_key(client, alice, ["webhooks:write", "webhooks:read", "calendars:write"])["key"]
    with_it = make_key(client, alice, ["webhooks:write", "bookings:read"])["key"]
    r = client.post("/api/v1/webhooks", json=body, headers=bearer(without))
    assert r.status_code == 403 and r.json["required_scope"] == "bookings:read"
    made = client.post("/api/v1/webhooks", json=body, headers=bearer(with_it))
    assert made.status_code == 201
    webhook = f"/api/v1/webhooks/{made.json['webhook']['id']}"
    for change in ({"url": hook.url + "/other"}, {"events": ["booking.cancelled"]}, {"enabled": True}):
        r = client.patch(webhook, json=change, headers=bearer(without))
        assert r.status_code == 403 and r.json["required_scope"] == "bookings:read", change
    assert client.patch(webhook, json={"description": "CRM"}, headers=bearer(without)).status_code == 200
    assert client.get(webhook, headers=bearer(without)).json["url"] == hook.url
    for method, path, change in (("POST", "/api/v1/calendars", {"kind": "caldav", "url": hook.url, "username": "u",
                                                                "password": "p", "write_to": "Work"}),
                                 ("PATCH", "/api/v1/calendars/1", {"write_to": "Work"})):
        r = client.open(path, method=method, json=change, headers=bearer(without))
        assert r.status_code == 403 and r.json["required_scope"] == "bookings:read", (method, r.json)


def test_a_key_cannot_make_list_or_revoke_keys(client, alice):
    made = make_key(client, alice, access_keys.SCOPES)
    for method, path in (("POST", KEYS), ("GET", KEYS), ("DELETE", f"{KEYS}/{made['api_key']['id']}")):
        r = client.open(path, method=method, json={"name": "x", "scopes": ["bookings:read"]}, headers=bearer(made["key"]))
        assert r.status_code == 403, (method, r.json)
    assert len(client.get(KEYS, headers=alice.auth).json) == 1


def test_a_key_acts_as_its_owner_and_only_for_them(client, alice, bob):
    key = make_key(client, alice, ["bookings:write", "bookings:read"])["key"]
    r = client.post("/api/v1/bookings", json={"title": "Call", "start": "2030-01-07T10:00:00Z",
                                              "end": "2030-01-07T10:30:00Z"}, headers=bearer(key))
    assert r.status_code == 201 and r.json["booking"]["user_id"] == alice.id
    booking = r.json["booking"]["id"]
    assert client.get(f"/api/v1/bookings/{booking}", headers=bearer(key)).status_code == 200
    assert client.get(f"/api/v1/bookings/{booking}", headers=bob.auth).status_code == 404
    profile = make_key(client, alice, ["profile:read"])["key"]
    assert client.get("/api/v1/users/me", headers=bearer(profile)).json == client.get("/api/v1/users/me",
                                                                                      headers=alice.auth).json


def test_profile_write_changes_name_zone_and_hours_only(client, alice):
    key = make_key(client, alice, ["profile:write", "profile:read"])["key"]
    r = client.patch("/api/v1/users/me", json={"name": "Alicia", "timezone": "Europe/Berlin"}, headers=bearer(key))
    assert r.status_code == 200 and r.json["user"]["name"] == "Alicia"
    for change in ({"email": "new@example.com"}, {"name": "X", "email": "new@example.com"}, {"username": "alicia"},
                   {"reminders": [10]}):
        r = client.patch("/api/v1/users/me", json=change, headers=bearer(key))
        assert r.status_code == 403, (change, r.json)
    me = client.get("/api/v1/users/me", headers=bearer(key)).json
    assert (me["name"], me["email"], me["username"]) == ("Alicia", alice.email, None)


def test_revoked_key_is_refused_at_its_next_request_and_owner_told(client, alice, mailbox, worker):
    made = make_key(client, alice, ["profile:read"])
    assert client.get(COUNT, headers=bearer(made["key"])).status_code == 200
    r = client.delete(f"{KEYS}/{made['api_key']['id']}", headers=alice.auth)
    assert r.status_code == 200 and r.json["api_key"]["id"] == made["api_key"]["id"]
    r = client.get(COUNT, headers=bearer(made["key"]))
    assert r.status_code == 401 and "revoked" in r.json["error"]
    assert client.delete(f"{KEYS}/{made['api_key']['id']}", headers=alice.auth).status_code == 404
    kinds = [n["type"] for n in client.get("/api/v1/notifications", headers=alice.auth).json]
    assert kinds.count("API_KEY_CREATED") == 1 and kinds.count("API_KEY_REVOKED") == 1
    worker()
    subjects = [m["Subject"] for m in mailbox.received() if m["To"] == alice.email]
    assert "API key created: CRM" in subjects and "API key revoked: CRM" in subjects
    [created] = [m for m in mailbox.received() if m["Subject"] == "API key created: CRM"]
    assert f"DELETE /api/v1/api-keys/{made['api_key']['id']})" in created.get_body(("plain",)).get_content()
    mails = " ".join(m.get_body(("plain",)).get_content() for m in mailbox.received() if m["To"] == alice.email)
    assert made["api_key"]["prefix"] in mails and made["key"] not in mails


def test_someone_elses_key_cannot_be_revoked(client, alice, bob):
    made = make_key(client, alice, ["profile:read"])
    assert client.delete(f"{KEYS}/{made['api_key']['id']}", headers=bob.auth).status_code == 404
    assert client.get(KEYS, headers=bob.auth).json == []
    assert client.get(COUNT, headers=bearer(made["key"])).status_code == 200


def test_an_organizations_owner_and_admins_see_and_revoke_its_keys(client, alice, bob, register, org_of, db,
                                                                  mailbox, worker):
    carol = register("Carol")
    org = org_of(alice, bob, carol)
    with db.cursor() as cur:
        cur.execute("UPDATE organization_members SET role = 'admin' WHERE user_id = %s", (bob.id,))
    made = make_key(client, bob, ["organizations:read"], organization_id=org["id"])
    bobs_own = make_key(client, bob, ["profile:read"])
    assert [k["id"] for k in client.get(KEYS, headers=alice.auth).json] == [made["api_key"]["id"]]
    assert client.get(KEYS, headers=carol.auth).json == []
    assert client.delete(f"{KEYS}/{made['api_key']['id']}", headers=carol.auth).status_code == 404
    assert client.delete(f"{KEYS}/{bobs_own['api_key']['id']}", headers=alice.auth).status_code == 404
    r = client.delete(f"{KEYS}/{made['api_key']['id']}", headers=alice.auth)
    assert r.status_code == 200 and r.json["api_key"]["user_id"] == bob.id
    assert client.get(f"/api/v1/organizations/{org['id']}", headers=bearer(made["key"])).status_code == 401
    worker()
    [mail] = [m for m in mailbox.received() if m["To"] == bob.email and m["Subject"] == "API key revoked: CRM"]
    assert "was revoked by Alice:" in mail.get_body(("plain",)).get_content()
    [note] = [n for n in client.get("/api/v1/notifications", headers=bob.auth).json if n["type"] == "API_KEY_REVOKED"]
    assert "revoked by Alice" in note["message"]


def test_at_most_fifty_keys_each(client, alice):
    for _ in range(50):
        make_key(client, alice, ["profile:read"])
    r = client.post(KEYS, json={"name": "one more", "scopes": ["profile:read"]}, headers=alice.auth)
    assert r.status_code == 409 and len(client.get(KEYS, headers=alice.auth).json) == 50


def test_expired_key_is_refused(client, alice, db):
    made = make_key(client, alice, ["profile:read"], expires_at="2030-01-01T09:00:00", timezone="Europe/Berlin")
    assert made["api_key"]["expires_at"] == "2030-01-01T08:00:00+00:00"
    assert client.get(COUNT, headers=bearer(made["key"])).status_code == 200
    with db.cursor() as cur:
        cur.execute("UPDATE api_keys SET expires_at = now() - interval '1 second'")
    r = client.get(COUNT, headers=bearer(made["key"]))
    assert r.status_code == 401 and "expired" in r.json["error"]


def test_unknown_and_mistyped_keys_are_401(client, alice):
    key = make_key(client, alice, ["profile:read"])["key"]
    typo = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    for wrong in (typo, key[:-1], key + "x", access_keys.new_key(), "schd_", "schd_" + "0" * 49):
        r = client.get(COUNT, headers=bearer(wrong))
        assert r.status_code == 401 and r.json["error"] == "Unauthorized: invalid or revoked API key", wrong


def test_a_typo_is_refused_without_asking_the_database(settings, redis_conn, client, alice):
    """The checksum catches it: with the database down, a typo is still 401, while a key that
    passes the checksum has to be looked up (503)."""
    key = make_key(client, alice, ["profile:read"])["key"]
    typo = key[:-7] + ("0" if key[-7] != "0" else "1") + key[-6:]
    offline = create_app(settings.replace(database_url="postgresql://nobody@127.0.0.1:1/none")).test_client()
    assert offline.get(COUNT, headers=bearer(typo)).status_code == 401
    assert offline.get(COUNT, headers=bearer(key)).status_code == 503


def test_last_used_at_is_kept_to_the_minute_without_a_write_per_request(client, alice, db):
    made = make_key(client, alice, ["profile:read"])
    for _ in range(3):
        assert client.get(COUNT, headers=bearer(made["key"])).status_code == 200
    with db.cursor() as cur:
        cur.execute("SELECT last_used_at = date_trunc('minute', now()), xmin::text FROM api_keys")
        [(this_minute, version)] = cur.fetchall()
        client.get(COUNT, headers=bearer(made["key"]))
        cur.execute("SELECT xmin::text FROM api_keys")
        [(version_after,)] = cur.fetchall()
    assert this_minute and version_after == version  # no new row version: nothing written
    [listed] = client.get(KEYS, headers=alice.auth).json
    assert listed["last_used_at"] is not None and listed["last_used_at"].endswith(":00+00:00")


@pytest.fixture
def limited_client(settings, redis_conn):
    application = create_app(settings.replace(api_key_rate_limit=3))
    yield application.test_client()
    application.extensions["runtime"].db.close()


def test_rate_limit_per_key_with_headers_on_every_answer(limited_client, alice):
    key = make_key(limited_client, alice, ["profile:read", "bookings:read"])["key"]
    other = make_key(limited_client, alice, ["profile:read"])["key"]
    answers = [limited_client.get(path, headers=bearer(key))
               for path in (COUNT, "/api/v1/organizations", "/api/v1/bookings/999999", COUNT)]
    assert [r.status_code for r in answers] == [200, 403, 404, 429]
    for r in answers:
        assert r.headers["RateLimit-Policy"] == '"api-key";q=3;w=60'
    assert [r.headers["RateLimit"].split(";")[1] for r in answers] == ["r=2", "r=1", "r=0", "r=0"]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60 and answers[-1].json["retry_after"] >= 1
    assert limited_client.get(COUNT, headers=bearer(other)).status_code == 200  # each key its own count
    token_answer = limited_client.get(COUNT, headers=alice.auth)
    assert token_answer.status_code == 200 and "RateLimit" not in token_answer.headers


def test_organization_key_reaches_only_its_organization(client, alice, bob, org_of, receiver):
    org = org_of(alice, bob)
    other = client.post("/api/v1/organizations", json={"name": "Other"}, headers=alice.auth).json["organization"]
    scopes = ["organizations:read", "webhooks:read", "webhooks:write", "bookings:read", "profile:read"]
    key = make_key(client, alice, scopes, organization_id=org["id"])
    assert key["api_key"]["organization_id"] == org["id"]
    key = key["key"]
    assert client.get(f"/api/v1/organizations/{org['id']}", headers=bearer(key)).status_code == 200
    assert client.get(f"/api/v1/organizations/{other['id']}", headers=bearer(key)).status_code == 404
    for path in ("/api/v1/bookings", "/api/v1/users/me", COUNT):
        r = client.get(path, headers=bearer(key))
        assert r.status_code == 403 and "organization" in r.json["error"], (path, r.json)
    hook = receiver()
    mine = client.post("/api/v1/webhooks", json={"url": hook.url, "events": ["booking.created"]}, headers=alice.auth)
    assert mine.status_code == 201
    made = client.post("/api/v1/webhooks", json={"url": hook.url, "events": ["booking.created"]}, headers=bearer(key))
    assert made.status_code == 201 and made.json["webhook"]["organization_id"] == org["id"]
    assert [w["id"] for w in client.get("/api/v1/webhooks", headers=bearer(key)).json] == [made.json["webhook"]["id"]]
    assert client.get(f"/api/v1/webhooks/{mine.json['webhook']['id']}", headers=bearer(key)).status_code == 404
    elsewhere = client.post("/api/v1/webhooks", json={"url": hook.url, "events": ["booking.created"],
                                                      "organization_id": other["id"]}, headers=bearer(key))
    assert elsewhere.status_code == 404


def test_only_owners_and_admins_make_organization_keys(client, alice, bob, register, org_of):
    carol = register("Carol")
    org = org_of(alice, bob)
    r = client.post(KEYS, json={"name": "x", "scopes": ["organizations:read"], "organization_id": org["id"]},
                    headers=bob.auth)
    assert r.status_code == 403
    r = client.post(KEYS, json={"name": "x", "scopes": ["organizations:read"], "organization_id": org["id"]},
                    headers=carol.auth)
    assert r.status_code == 404
    assert client.get(KEYS, headers=bob.auth).json == [] and client.get(KEYS, headers=carol.auth).json == []


def test_a_demoted_admins_keys_lose_the_admins_reach_at_once(client, alice, bob, org_of, admin, db):
    org = org_of(alice, bob)
    with db.cursor() as cur:
        cur.execute("UPDATE organization_members SET role = 'admin' WHERE user_id = %s", (bob.id,))
    org_key = make_key(client, bob, ["organizations:read"], organization_id=org["id"])["key"]
    site_key = make_key(client, admin, ["profile:read"])["key"]
    assert client.get(f"/api/v1/organizations/{org['id']}", headers=bearer(org_key)).status_code == 200
    assert client.get("/api/v1/users", headers=bearer(site_key)).status_code == 200
    with db.cursor() as cur:
        cur.execute("UPDATE organization_members SET role = 'member' WHERE user_id = %s", (bob.id,))
        cur.execute("UPDATE users SET role = 'member' WHERE id = %s", (admin.id,))
    r = client.get(f"/api/v1/organizations/{org['id']}", headers=bearer(org_key))
    assert r.status_code == 403 and "no longer" in r.json["error"]
    assert client.get("/api/v1/users", headers=bearer(site_key)).status_code == 403


def test_the_key_never_reaches_a_log_line_only_its_prefix(client, alice, caplog):
    key = make_key(client, alice, ["profile:read"])["key"]
    caplog.set_level("DEBUG")
    caplog.set_level("DEBUG", logger="scheduler")
    client.get(COUNT, headers=bearer(key))
    client.get("/api/v1/bookings", headers=bearer(key))
    client.get(COUNT, headers=bearer(key[:-1] + "0"))
    assert key not in caplog.text and key[13:] not in caplog.text and key[-20:] not in caplog.text
    lines = [r.getMessage() for r in caplog.records if r.name == "scheduler.request"]
    assert lines[0].startswith("GET /api/v1/notifications/count 200 ") and lines[0].endswith(f" key={key[:13]}")
    assert lines[1].endswith(f" key={key[:13]}")


def test_a_wrong_key_takes_as_long_as_a_right_one(settings, redis_conn, client, alice):
    """Both are one lookup by the key's hash through a unique index: the answer's timing says
    nothing about how close a guess came. Interleaved, medians of many: a loose bound that
    catches a path doing different work (say, a query more), not noise."""
    unlimited = create_app(settings.replace(api_key_rate_limit=0))
    timed_client = unlimited.test_client()
    right = make_key(client, alice, ["bookings:read"])["key"]  # refused for scope: no route work after the lookup
    wrong = right[:5] + access_keys.new_key()[5:]  # well formed, so it is looked up too
    times = {"right": [], "wrong": []}
    for _ in range(60):
        for name, key, status in (("right", right, 403), ("wrong", wrong, 401)):
            started = time.perf_counter()
            assert timed_client.get(COUNT, headers=bearer(key)).status_code == status
            times[name].append(time.perf_counter() - started)
    ratio = statistics.median(times["wrong"]) / statistics.median(times["right"])
    unlimited.extensions["runtime"].db.close()
    assert 0.5 < ratio < 2, ratio


@pytest.fixture
def two_web_processes(database_url, redis_url):
    """Two gunicorn servers, one process each, on the test database: two web processes."""
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "JWT_SECRET": "test-secret-" + "x" * 32, "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING",
           "EMAIL_PROVIDER": "console", "WEB_CONCURRENCY": "1"}
    ports = [free_port(), free_port()]
    servers = [start_gunicorn(env, port) for port in ports]
    yield ports
    for server in servers:
        stop(server)


def get(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("revoked_through", [0, 1])
def test_revocation_holds_on_every_web_process_at_the_next_request(two_web_processes, client, alice,
                                                                   revoked_through):
    made = make_key(client, alice, ["profile:read"])
    for port in two_web_processes:
        assert [get(port, COUNT, bearer(made["key"])) for _ in range(3)] == [200, 200, 200]
    conn = http.client.HTTPConnection("127.0.0.1", two_web_processes[revoked_through], timeout=10)
    conn.request("DELETE", f"{KEYS}/{made['api_key']['id']}", headers=alice.auth)
    assert conn.getresponse().status == 200
    conn.close()
    assert [get(port, COUNT, bearer(made["key"])) for port in two_web_processes] == [401, 401]
