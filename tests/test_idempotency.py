import threading
from datetime import timedelta

import psycopg2
import pytest
from flask.testing import FlaskClient

from tests.booking_links import PUBLIC, at, host, local_day, make_type  # noqa: F401  (fixtures)
from helpers import slot, waiting_for_lock
from scheduler import retention
from scheduler.openapi import build

BOOKINGS = "/api/v1/bookings"
JOIN_SECONDS = 30


def keyed(user, key):
    return {**user.auth, "Idempotency-Key": key}


def counts(db):
    with db.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM notifications),"
                    " (SELECT count(*) FROM email_outbox WHERE booking_id IS NOT NULL AND reminder_minutes IS NULL)")
        return cur.fetchone()


def run_threads(targets):
    threads = [threading.Thread(target=target) for target in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads)


def test_the_description_names_the_header_and_its_statuses(app):
    paths = build(app)["paths"]
    for path in (BOOKINGS, "/api/v1/organizations", "/api/v1/public/{username}/{slug}/bookings"):
        operation = paths[path]["post"]
        assert "Idempotency-Key" in [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert {"409", "422"} <= set(operation["responses"])
        assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
    assert all(p["in"] != "header" for p in paths[BOOKINGS]["get"]["parameters"])


def test_retry_replays_the_first_response_and_does_nothing_again(client, alice, db):
    body = slot("09:00", "10:00", title="Once")
    first = client.post(BOOKINGS, json=body, headers=keyed(alice, "k-1"))
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = client.post(BOOKINGS, json=body, headers=keyed(alice, '"k-1"'))  # the draft's quoted form
    assert again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Type"] == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(db) == (1, 1, 1)


def test_same_body_in_another_key_order_or_spacing_is_the_same_request(client, alice, db):
    body = slot("09:00", "10:00")
    first = client.post(BOOKINGS, json=body, headers=keyed(alice, "k"))
    reordered = "{" + ", ".join(f'"{k}": "{v}"' for k, v in reversed(body.items())) + "}"
    again = client.post(BOOKINGS, data=reordered, content_type="application/json", headers=keyed(alice, "k"))
    assert again.status_code == 201 and again.json == first.json
    assert counts(db)[0] == 1


def test_same_key_with_another_body_is_422_and_changes_nothing(client, alice, db):
    assert client.post(BOOKINGS, json=slot("09:00", "10:00"), headers=keyed(alice, "k")).status_code == 201
    r = client.post(BOOKINGS, json=slot("11:00", "12:00"), headers=keyed(alice, "k"))
    assert r.status_code == 422 and "different request" in r.json["error"]
    assert counts(db)[0] == 1


def test_same_key_on_another_route_is_422(client, alice):
    assert client.post(BOOKINGS, json=slot("09:00", "10:00"), headers=keyed(alice, "k")).status_code == 201
    r = client.post("/api/v1/organizations", json={"name": "Team"}, headers=keyed(alice, "k"))
    assert r.status_code == 422


def test_keys_are_per_caller(client, alice, bob, db):
    body = slot("09:00", "10:00")
    a = client.post(BOOKINGS, json=body, headers=keyed(alice, "shared"))
    b = client.post(BOOKINGS, json=body, headers=keyed(bob, "shared"))
    assert a.status_code == b.status_code == 201
    assert b.json["booking"]["user_id"] == bob.id and "Idempotent-Replayed" not in b.headers
    assert counts(db)[0] == 2


def test_without_a_key_every_request_runs(client, alice, db):
    client.post("/api/v1/organizations", json={"name": "A"}, headers=alice.auth)
    client.post("/api/v1/organizations", json={"name": "A"}, headers=alice.auth)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM organizations")
        assert cur.fetchone()[0] == 2
        cur.execute("SELECT count(*) FROM idempotency_keys")
        assert cur.fetchone()[0] == 0


def test_organizations_take_keys_too(client, alice, db):
    first = client.post("/api/v1/organizations", json={"name": "A"}, headers=keyed(alice, "org"))
    again = client.post("/api/v1/organizations", json={"name": "A"}, headers=keyed(alice, "org"))
    assert first.status_code == again.status_code == 201 and again.json == first.json
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM organizations")
        assert cur.fetchone()[0] == 1


@pytest.mark.parametrize("key", ["", '""', "x" * 256, "schlüssel", "two words", 'a"b', "tab\there"])
def test_invalid_key_is_400(client, alice, db, key):
    r = client.post(BOOKINGS, json=slot("09:00", "10:00"), headers=keyed(alice, key))
    assert r.status_code == 400 and "Idempotency-Key" in r.json["fields"]
    assert counts(db)[0] == 0


def test_longest_key_is_fine(client, alice):
    assert client.post(BOOKINGS, json=slot("09:00", "10:00"), headers=keyed(alice, "x" * 255)).status_code == 201


def test_a_client_error_is_replayed(client, alice, db):
    blocker = client.post(BOOKINGS, json=slot("09:00", "10:00"), headers=alice.auth).json["booking"]
    body = slot("09:30", "10:30")
    refused = client.post(BOOKINGS, json=body, headers=keyed(alice, "k"))
    assert refused.status_code == 409
    client.delete(f"{BOOKINGS}/{blocker['id']}", headers=alice.auth)
    again = client.post(BOOKINGS, json=body, headers=keyed(alice, "k"))
    assert again.status_code == 409 and again.json == refused.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert client.post(BOOKINGS, json=body, headers=keyed(alice, "k2")).status_code == 201


def test_a_server_error_is_not_recorded_so_a_retry_runs(app, client, alice, db):
    """A 5xx rolls everything back, the record too: the same key then books once."""
    body = slot("09:00", "10:00")
    with db.cursor() as cur:
        cur.execute("ALTER TABLE email_outbox ADD CONSTRAINT outage CHECK (false) NOT VALID")
    try:
        undescribed = FlaskClient(app)  # a 500 is in no description, and is what this test makes
        assert undescribed.post(BOOKINGS, json=body, headers=keyed(alice, "k")).status_code == 500
        assert counts(db) == (0, 0, 0)
    finally:
        with db.cursor() as cur:
            cur.execute("ALTER TABLE email_outbox DROP CONSTRAINT outage")
    r = client.post(BOOKINGS, json=body, headers=keyed(alice, "k"))
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert counts(db) == (1, 1, 1)


def test_the_retention_job_purges_expired_keys(client, alice, db, travel, app, settings):
    client.post(BOOKINGS, json=slot("09:00", "10:00"), headers=keyed(alice, "old"))
    travel(timedelta(hours=25))
    client.post(BOOKINGS, json=slot("11:00", "12:00"), headers=keyed(alice, "new"))
    retention.purge(app.extensions["runtime"].db, settings)
    with db.cursor() as cur:
        cur.execute("SELECT key FROM idempotency_keys")
        assert cur.fetchall() == [("new",)]


def test_a_key_expires_after_the_ttl(client, alice, db, travel):
    assert client.post(BOOKINGS, json=slot("09:00", "10:00"), headers=keyed(alice, "k")).status_code == 201
    travel(timedelta(hours=23))
    assert client.post(BOOKINGS, json=slot("11:00", "12:00"), headers=keyed(alice, "k")).status_code == 422
    travel(timedelta(hours=2))
    assert client.post(BOOKINGS, json=slot("11:00", "12:00"), headers=keyed(alice, "k")).status_code == 201


def test_a_retry_while_the_first_runs_is_409(app, alice, database_url, db):
    body = slot("09:00", "10:00")
    blocker = psycopg2.connect(database_url)
    results = {}

    def first():
        results["first"] = app.test_client().post(BOOKINGS, json=body, headers=keyed(alice, "k"))

    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE bookings IN EXCLUSIVE MODE")  # the first request stops at its insert
        thread = threading.Thread(target=first)
        thread.start()
        waiting_for_lock(database_url)
        retry = app.test_client().post(BOOKINGS, json=body, headers=keyed(alice, "k"))
        assert retry.status_code == 409 and "still being processed" in retry.json["error"]
        assert retry.headers["Retry-After"] == "1"
    finally:
        blocker.rollback()
        blocker.close()
    thread.join(JOIN_SECONDS)
    assert results["first"].status_code == 201
    assert app.test_client().post(BOOKINGS, json=body, headers=keyed(alice, "k")).json == results["first"].json
    assert counts(db) == (1, 1, 1)


def test_racing_retries_book_once_notify_once_mail_once(app, alice, db, worker, mailbox):
    body = slot("09:00", "10:00", title="Raced")
    responses, barrier = [], threading.Barrier(8)

    def attempt():
        client = app.test_client()
        barrier.wait(JOIN_SECONDS)
        responses.append(client.post(BOOKINGS, json=body, headers=keyed(alice, "race")))

    run_threads([attempt] * 8)
    created = [r for r in responses if r.status_code == 201]
    assert created and all(r.status_code in (201, 409) for r in responses)
    assert len({r.get_data() for r in created}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in created) == 1
    assert counts(db) == (1, 1, 1)
    worker()
    assert [m["Subject"] for m in mailbox.received() if "Raced" in m["Subject"]] == ["Booking confirmed: Raced"]


def test_emails_of_an_idempotent_request_go_out_after_its_commit(client, alice, worker, mailbox):
    client.post(BOOKINGS, json=slot("09:00", "10:00", title="Mailed"), headers=keyed(alice, "k"))
    worker()
    assert [m["Subject"] for m in mailbox.received() if "Mailed" in m["Subject"]] == ["Booking confirmed: Mailed"]


def guest_booking(client, start, key, email="gus@example.com"):
    body = {"start": start.isoformat(), "name": "Gus Guest", "email": email}
    return client.post(f"{PUBLIC}/hana/intro/bookings", json=body, headers={"Idempotency-Key": key})


def test_a_guest_booking_retried_is_booked_once_and_keeps_its_manage_token(client, host, make_type, db):
    make_type()
    start = at(local_day(), "10:00")
    first = guest_booking(client, start, "guest-key")
    again = guest_booking(client, start, "guest-key")
    assert first.status_code == again.status_code == 201
    assert again.json["manage_token"] == first.json["manage_token"] and again.headers["Idempotent-Replayed"] == "true"
    assert counts(db)[0] == 1
    with db.cursor() as cur:  # the recorded response is sealed: the database alone doesn't give the token away
        cur.execute("SELECT body FROM idempotency_keys")
        assert first.json["manage_token"].encode() not in bytes(cur.fetchone()[0])


def test_guests_keys_are_per_address_and_email(client, host, make_type, db):
    make_type()
    assert guest_booking(client, at(local_day(), "10:00"), "k").status_code == 201
    other = guest_booking(client, at(local_day(), "11:00"), "k", email="ida@example.com")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert counts(db)[0] == 2


@pytest.mark.direct
def test_a_keyed_booking_run_again_after_its_connection_died_is_recorded_once(app, alice, db, database_url):
    """The keyed request's connection dies while it waits for Alice's lock: `retrying` runs it
    again from the key's lock, on a fresh connection; one booking, one record, and a retry
    replays it."""
    body = slot("10:00", "11:00")
    with db.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (alice.id,))
    answers = []
    request = threading.Thread(target=lambda: answers.append(app.test_client().post(
        BOOKINGS, json=body, headers=keyed(alice, "k"))))
    request.start()
    waiting_for_lock(database_url)
    with db.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'scheduler' AND wait_event = 'advisory'")
        assert cur.rowcount == 1
        cur.execute("SELECT pg_advisory_unlock(%s)", (alice.id,))
    request.join(JOIN_SECONDS)
    assert answers and answers[0].status_code == 201, answers and answers[0].json
    again = app.test_client().post(BOOKINGS, json=body, headers=keyed(alice, "k"))
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == answers[0].json
    assert counts(db) == (1, 1, 1)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM idempotency_keys")
        assert cur.fetchone()[0] == 1
