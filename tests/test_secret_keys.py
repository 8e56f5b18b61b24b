"""SECRET_KEYS: webhook secrets sealed at rest, manage links and idempotency records keyed by the
ring, so that rotating JWT_SECRET logs people out and nothing else, and a ring key rotates
(`flask --app wsgi rotate-secrets`) without breaking links, signatures or replays."""

import base64
import hashlib
import hmac
import re
import shutil
import uuid

import psycopg2
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks import Webhook

from helpers import slot
from migrate import SQL_DIR, migrate
from scheduler import create_app
from scheduler.keyring import KeyRing
from scheduler.keys import derived_key
from scheduler.links import manage_token
from scheduler.runtime import start_worker
from tests.booking_links import GUEST, PUBLIC, at, host, local_day, make_type  # noqa: F401 (fixtures)

K1, K2 = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))


def ring(*ids):
    keys = {"k1": K1, "k2": K2}
    return KeyRing.parse(",".join(f"{key_id}:{keys[key_id]}" for key_id in ids))


@pytest.fixture
def settings(settings):
    return settings.replace(secret_keys=ring("k1"))


@pytest.fixture
def restarted(redis_conn):
    """restarted(settings): the web app and worker as they run after a deploy with these settings."""
    runtimes = []

    def restart(new_settings):
        app = create_app(new_settings)
        runtimes.extend([app.extensions["runtime"], start_worker(new_settings)])
        return app.test_client()
    yield restart
    for runtime in runtimes:
        runtime.db.close()


def sealed_secrets(db):
    with db.cursor() as cur:
        cur.execute("SELECT secret_sealed, previous_secret_sealed FROM webhook_endpoints")
        return [tuple(value and bytes(value) for value in row) for row in cur.fetchall()]


def manage_links(mailbox, to):
    return [re.search(r"https?://\S+/manage/\S+", m.get_body(("plain",)).get_content()).group(0)
            for m in mailbox.received() if m["To"] == to]


def test_webhook_secrets_are_not_stored_in_clear(client, alice, db):
    created = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["booking.created"]},
                          headers=alice.auth).json["webhook"]
    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=alice.auth).json["webhook"]
    with db.cursor() as cur:
        cur.execute("SELECT * FROM webhook_endpoints")
        row = " ".join(str(bytes(v) if isinstance(v, memoryview) else v) for v in cur.fetchone())
    for secret in (created["secret"], rotated["secret"]):
        assert secret not in row and secret.removeprefix("whsec_") not in row
    [(current, previous)] = sealed_secrets(db)
    assert current.startswith(b"k1.") and previous.startswith(b"k1.")


def test_signatures_survive_a_key_rotation(client, alice, receiver, webhook_worker, restarted, settings):
    hook = receiver()
    secret = client.post("/api/v1/webhooks", json={"url": hook.url, "events": ["booking.created"]},
                         headers=alice.auth).json["webhook"]["secret"]
    rotated = restarted(settings.replace(secret_keys=ring("k2", "k1")))
    rotated.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    [request] = hook.received()
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "booking.created"


def test_a_manage_link_mailed_after_a_key_rotation_still_works(client, host, make_type, mailbox, worker, restarted,
                                                              settings):
    make_type()
    booked = client.post(f"{PUBLIC}/hana/intro/bookings", json={
        "start": at(local_day(), "10:00").isoformat(), "name": "Gus", "email": "gus@example.com"}).json
    rotated = restarted(settings.replace(secret_keys=ring("k2", "k1")))
    worker()  # the confirmation is rendered by a worker that seals with k2
    [link] = manage_links(mailbox, "gus@example.com")
    token = link.rsplit("/", 1)[1]
    assert token == booked["manage_token"]
    assert rotated.get(f"{GUEST}/{token}").status_code == 200


def test_a_new_jwt_secret_logs_people_out_and_nothing_else(client, host, make_type, mailbox, worker, restarted,
                                                         settings):
    make_type()
    body = {"start": at(local_day(), "10:00").isoformat(), "name": "Gus", "email": "gus@example.com"}
    booked = client.post(f"{PUBLIC}/hana/intro/bookings", json=body, headers={"Idempotency-Key": "once"})
    assert booked.status_code == 201
    relogged = restarted(settings.replace(jwt_secret="another-secret-" + "y" * 32))
    assert relogged.get("/api/v1/users/me", headers=host.auth).status_code == 401
    token = booked.json["manage_token"]
    assert relogged.get(f"{GUEST}/{token}").status_code == 200
    replayed = relogged.post(f"{PUBLIC}/hana/intro/bookings", json=body, headers={"Idempotency-Key": "once"})
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == booked.json
    worker()
    assert manage_links(mailbox, "gus@example.com") == [booked.json["manage_url"]]


def test_links_of_bookings_made_before_the_key_ring_still_come_from_jwt_secret(settings):
    """Their tokens were handed out already: the salt without a key id keeps the old derivation."""
    salt = "legacy-salt-without-a-key-id"
    before = hmac.new(derived_key(settings.jwt_secret, "guest-manage-token"), salt.encode(), hashlib.sha256).digest()
    assert manage_token(settings, salt) == base64.urlsafe_b64encode(before).rstrip(b"=").decode()


def test_rotate_secrets_reseals_under_the_current_key_and_names_what_still_needs_an_old_one(
        client, alice, host, make_type, receiver, webhook_worker, settings, restarted, db, feeds):
    hook = receiver()
    url = feeds.serve("/cal.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nEND:VCALENDAR\r\n",
                      credentials=("ada", "pw"))
    calendar = client.post("/api/v1/calendars", json={"kind": "ics", "url": url, "username": "ada", "password": "pw"},
                           headers=alice.auth).json["calendar"]
    secret = client.post("/api/v1/webhooks", json={"url": hook.url, "events": ["booking.created"]},
                         headers=alice.auth).json["webhook"]["secret"]
    first = client.post("/api/v1/bookings", json=slot("09:00", "10:00"),
                        headers={**alice.auth, "Idempotency-Key": "k"})
    make_type()
    client.post(f"{PUBLIC}/hana/intro/bookings", json={
        "start": at(local_day(), "10:00").isoformat(), "name": "Gus", "email": "gus@example.com"})

    rotated = settings.replace(secret_keys=ring("k2", "k1"))
    cli = restarted(rotated).application.test_cli_runner()
    result = cli.invoke(args=["rotate-secrets"])
    assert result.exit_code == 0, result.exception
    output = result.output
    assert "webhook secrets: 1 re-sealed under k2" in output and "idempotency records: 1 re-sealed under k2" in output
    assert "calendar passwords: 1 re-sealed under k2" in output
    assert "key k1: still makes the manage links of 1 upcoming guest booking(s)" in output
    assert [s[0][:3] for s in sealed_secrets(db)] == [b"k2."]
    with db.cursor() as cur:
        cur.execute("SELECT body FROM idempotency_keys")
        assert bytes(cur.fetchone()[0]).startswith(b"k2.")
    again = cli.invoke(args=["rotate-secrets"]).output
    assert "0 re-sealed" in again

    only_k2 = restarted(settings.replace(secret_keys=ring("k2")))  # k1 dropped
    replayed = only_k2.post("/api/v1/bookings", json=slot("09:00", "10:00"),
                            headers={**alice.auth, "Idempotency-Key": "k"})
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json == first.json
    refreshed = only_k2.post(f"/api/v1/calendars/{calendar['id']}/refresh", headers=alice.auth).json["calendar"]
    assert refreshed["status"] == "ok"
    webhook_worker()
    [request] = hook.received()
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "booking.created"


@pytest.fixture
def database_before_011(database_url, tmp_path):
    name = f"scheduler_sealing_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = psycopg2.extensions.make_dsn(database_url, dbname=name)
    shutil.copy(SQL_DIR / "init.sql", tmp_path / "init.sql")
    (tmp_path / "migrations").mkdir()
    for path in (SQL_DIR / "migrations").iterdir():
        if path.name < "011":
            shutil.copy(path, tmp_path / "migrations" / path.name)
    migrate(url, tmp_path)
    yield url
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_a_seats_manage_link_counts_as_a_use_of_its_key(client, host, make_type, settings, restarted):
    make_type(seats=3)
    for n in range(2):
        r = client.post(f"{PUBLIC}/hana/intro/bookings", json={
            "start": at(local_day(), "10:00").isoformat(), "name": f"Gus {n}", "email": f"gus{n}@example.com"})
        assert r.status_code == 201
    cli = restarted(settings.replace(secret_keys=ring("k2", "k1"))).application.test_cli_runner()
    assert "key k1: still makes the manage links of 2 upcoming guest booking(s)" in cli.invoke(
        args=["rotate-secrets"]).output


def test_the_migration_seals_existing_secrets_and_records_and_drops_the_plain_text(database_before_011, settings):
    old_key = derived_key(settings.jwt_secret, "scheduler idempotency records")
    nonce = b"n" * 12
    old_body = nonce + AESGCM(old_key).encrypt(nonce, b'{"ok": true}', b"user:1 key")
    conn = psycopg2.connect(database_before_011)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('a', 'a@example.com', 'x') RETURNING id")
        user_id = cur.fetchone()[0]
        cur.execute("INSERT INTO webhook_endpoints (user_id, url, events, secret, previous_secret) "
                    "VALUES (%s, 'http://127.0.0.1:9/h', '{booking.created}', 'whsec_new', 'whsec_old')", (user_id,))
        cur.execute("INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, expires_at) "
                    "VALUES ('user:1', 'key', 'f', 201, %s, now() + interval '1 hour')", (old_body,))
    assert migrate(database_before_011, settings=settings)[0] == "011_sealed_secrets.py"  # later ones follow it
    keys = settings.secret_keys
    with conn, conn.cursor() as cur:
        cur.execute("SELECT secret_sealed, previous_secret_sealed FROM webhook_endpoints")
        current, previous = cur.fetchone()
        assert keys.open_text(current, "webhook secret") == "whsec_new"
        assert keys.open_text(previous, "webhook secret") == "whsec_old"
        cur.execute("SELECT count(*) FROM information_schema.columns "
                    "WHERE table_name = 'webhook_endpoints' AND column_name IN ('secret', 'previous_secret')")
        assert cur.fetchone() == (0,)
        cur.execute("SELECT body FROM idempotency_keys")
        assert keys.open(cur.fetchone()[0], "idempotency user:1 key") == b'{"ok": true}'
    conn.close()
