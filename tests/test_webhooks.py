"""Webhook deliveries to real HTTP receivers started by the tests, through the real worker;
signatures checked by the `standardwebhooks` package, an implementation independent of ours."""

import threading
from datetime import timedelta

import psycopg2
import pytest
from standardwebhooks import Webhook

from helpers import slot, wait_until
from tests.booking_links import host, make_type  # noqa: F401 (fixtures)
from receivers import HANG
from scheduler import create_app
from scheduler.delivery import webhooks as webhook_delivery
from scheduler.runtime import start_worker
from scheduler.webhooks.events import MAX_PAYLOAD_BYTES


@pytest.fixture
def settings(settings):
    return settings.replace(webhook_retry_schedule=(0, 0, 0, 0),
                            webhook_connect_timeout=1.0, webhook_timeout=2.0)


@pytest.fixture
def subscribe(client):
    def make(user, url, events=("booking.created",), **fields):
        r = client.post("/api/v1/webhooks", json={"url": url, "events": list(events), **fields}, headers=user.auth)
        assert r.status_code == 201, r.json
        return r.json["webhook"]
    return make


@pytest.fixture
def retry_round(webhook_worker, travel):
    """The worker's next round: time passes, the sweep enqueues due retries, the worker runs."""
    def run():
        travel(timedelta(seconds=5))
        webhook_delivery.sweep(webhook_worker())
        webhook_worker()
    return run


def verified(secret, request):
    return Webhook(secret).verify(request.body, request.headers)


def deliveries(db):
    with db.cursor() as cur:
        cur.execute("SELECT type, status, attempts FROM webhook_deliveries ORDER BY id")
        return cur.fetchall()


def test_booking_created_is_delivered_signed_per_the_spec(client, alice, receiver, subscribe, webhook_worker):
    hook = receiver()
    webhook = subscribe(alice, hook.url)
    assert webhook["secret"].startswith("whsec_")
    created = client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth).json["booking"]
    assert hook.received() == []  # sent by the worker, not the request
    webhook_worker()
    [request] = hook.received()
    event = verified(webhook["secret"], request)
    assert event["type"] == "booking.created"
    assert event["data"] == created
    assert event["timestamp"].endswith("Z")
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["Content-Type"] == "application/json"
    assert len(request.body) < MAX_PAYLOAD_BYTES


def test_every_booking_change_fires_its_event(client, alice, bob, org_of, receiver, subscribe, webhook_worker):
    org_of(alice, bob)
    hook = receiver()
    alice_hook = subscribe(alice, hook.url, events=["booking.created", "booking.updated", "booking.cancelled",
                                                    "attendee.responded"])
    booking = client.post("/api/v1/bookings", json=slot("09:00", "10:00") | {"attendees": [bob.email]},
                          headers=alice.auth).json["booking"]
    client.patch(f"/api/v1/bookings/{booking['id']}", json={"title": "Renamed"}, headers=alice.auth)
    client.patch(f"/api/v1/bookings/{booking['id']}/attendance", json={"status": "declined"}, headers=bob.auth)
    client.delete(f"/api/v1/bookings/{booking['id']}", headers=alice.auth)
    webhook_worker()
    events = sorted((verified(alice_hook["secret"], r) for r in hook.received()), key=lambda e: e["timestamp"])
    assert [e["type"] for e in events] == ["booking.created", "booking.updated", "attendee.responded",
                                           "booking.cancelled"]
    assert events[1]["data"]["title"] == "Renamed"
    assert events[2]["attendee"] == {"user_id": bob.id, "name": "Bob", "email": bob.email, "status": "declined"}
    assert events[3]["data"]["status"] == "cancelled"


def test_a_series_fires_booking_events_per_occurrence(client, alice, receiver, subscribe, webhook_worker):
    hook = receiver()
    webhook = subscribe(alice, hook.url, events=["booking.created", "booking.cancelled"])
    body = slot("09:00", "10:00") | {"recurrence": {"freq": "weekly", "count": 3}}
    made = client.post("/api/v1/bookings", json=body, headers=alice.auth).json
    client.delete(f"/api/v1/bookings/{made['bookings'][1]['id']}?scope=following", headers=alice.auth)
    webhook_worker()
    events = [verified(webhook["secret"], r) for r in hook.received()]
    created = sorted(e["data"]["occurrence"] for e in events if e["type"] == "booking.created")
    cancelled = sorted(e["data"]["occurrence"] for e in events if e["type"] == "booking.cancelled")
    assert (created, cancelled) == ([1, 2, 3], [2, 3])
    assert {e["data"]["series_id"] for e in events} == {made["series"]["id"]}


def test_only_subscribed_events_of_my_bookings_are_sent(client, alice, bob, receiver, subscribe, webhook_worker):
    hook = receiver()
    subscribe(alice, hook.url, events=["booking.cancelled"])
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    bobs = client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=bob.auth).json["booking"]
    client.delete(f"/api/v1/bookings/{bobs['id']}", headers=bob.auth)
    webhook_worker()
    assert hook.received() == []


def test_a_receiver_failing_three_times_gets_one_acknowledged_delivery_per_event(
        client, alice, receiver, subscribe, webhook_worker, retry_round, db):
    hook = receiver(500, 500, (503, {"Retry-After": "0"}))
    webhook = subscribe(alice, hook.url, events=["booking.created", "booking.cancelled"])
    created = client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth).json["booking"]
    cancelled = client.delete(f"/api/v1/bookings/{created['id']}", headers=alice.auth).json["booking"]
    webhook_worker()
    for _ in range(5):
        retry_round()
    requests = hook.received()
    assert len(requests) == 5  # two events: three failed attempts between them, then one success each
    acknowledged = {}
    for request in requests:
        event = verified(webhook["secret"], request)
        assert event["data"] == {"booking.created": created, "booking.cancelled": cancelled}[event["type"]]
        if request.answer == 200:
            acknowledged.setdefault(request.headers["webhook-id"], []).append(event["type"])
    assert sorted(acknowledged.values()) == [["booking.cancelled"], ["booking.created"]]
    assert len({r.headers["webhook-id"] for r in requests}) == 2  # one id per event, however many attempts
    assert sorted(deliveries(db)) == [(type, "delivered", attempts(type, requests))
                                      for type in ("booking.cancelled", "booking.created")]
    log = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=alice.auth).json
    statuses = sorted(a["response_status"] for d in log for a in d["attempts"])
    assert statuses == [200, 200, 500, 500, 503]
    assert sorted(a["error"] for d in log for a in d["attempts"] if a["error"]) == ["HTTP 500", "HTTP 500", "HTTP 503"]
    assert all(a["latency_ms"] >= 0 for d in log for a in d["attempts"])


def attempts(type, requests):
    return sum(1 for r in requests if f'"type":"{type}"'.encode() in r.body)


def test_retries_stop_when_the_schedule_is_used_up(client, alice, receiver, subscribe, webhook_worker, retry_round,
                                                   db):
    hook = receiver(*[500] * 10)
    subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    for _ in range(6):
        retry_round()
    assert len(hook.received()) == 5  # the first attempt and one per delay of the schedule
    assert deliveries(db) == [("booking.created", "failed", 5)]


def test_retry_after_postpones_the_next_attempt(client, alice, receiver, subscribe, webhook_worker, db):
    hook = receiver((503, {"Retry-After": "120"}))
    subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    with db.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM next_attempt_at - now()) FROM webhook_deliveries")
        assert 110 < cur.fetchone()[0] <= 121


def test_410_disables_the_endpoint_and_tells_its_owner(client, alice, receiver, subscribe, webhook_worker, worker,
                                                       mailbox, db):
    hook = receiver(410)
    webhook = subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    shown = client.get(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).json
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert deliveries(db) == [("booking.created", "failed", 1)]
    client.post("/api/v1/bookings", json=slot("11:00", "12:00"), headers=alice.auth)
    webhook_worker()
    assert len(hook.received()) == 1 and len(deliveries(db)) == 1  # nothing more for a disabled endpoint
    notes = client.get("/api/v1/notifications", headers=alice.auth).json
    assert any(n["type"] == "WEBHOOK_DISABLED" and hook.url in n["title"] for n in notes)
    worker()
    assert any(m["Subject"] == f"Webhook disabled: {hook.url}" and m["To"] == alice.email
               for m in mailbox.received())


def test_a_day_of_failures_disables_the_endpoint(client, alice, receiver, subscribe, webhook_worker, travel, db):
    hook = receiver(*[500] * 10)
    webhook = subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    travel(timedelta(hours=23))
    webhook_delivery.sweep(webhook_worker())
    webhook_worker()
    assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).json["enabled"] is True
    travel(timedelta(hours=2))
    webhook_delivery.sweep(webhook_worker())
    webhook_worker()
    shown = client.get(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).json
    assert shown["enabled"] is False and "more than a day" in shown["disabled_reason"]
    notes = client.get("/api/v1/notifications", headers=alice.auth).json
    assert [n["type"] for n in notes].count("WEBHOOK_DISABLED") == 1


def test_a_success_ends_the_run_of_failures(client, alice, receiver, subscribe, webhook_worker, retry_round, travel):
    hook = receiver(500)
    webhook = subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    retry_round()
    travel(timedelta(hours=25))
    hook.answers = [500]
    client.post("/api/v1/bookings", json=slot("11:00", "12:00"), headers=alice.auth)
    webhook_worker()
    assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).json["enabled"] is True


def test_a_redirect_is_a_failure_and_not_followed(client, alice, receiver, subscribe, webhook_worker, db):
    elsewhere = receiver()
    hook = receiver((302, {"Location": elsewhere.url}), (307, {"Location": elsewhere.url}))
    subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    assert len(hook.received()) == 1 and elsewhere.received() == []
    assert deliveries(db) == [("booking.created", "pending", 1)]


def test_a_private_address_is_refused_at_connect_time_without_the_flag(client, alice, receiver, subscribe, settings,
                                                                       webhook_worker, db):
    hook = receiver()
    webhook = subscribe(alice, hook.url)  # registered while allowed
    runtime = webhook_worker()
    runtime.settings = settings.replace(egress_allow_private=False)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    assert hook.received() == []
    log = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=alice.auth).json
    [attempt] = log[0]["attempts"]
    assert attempt["response_status"] is None and "private or reserved" in attempt["error"]


def test_a_rolled_back_change_fires_nothing(client, alice, receiver, subscribe, webhook_worker, db):
    hook = receiver()
    subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    refused = client.post("/api/v1/bookings", json=slot("09:30", "10:30", title="Clash"), headers=alice.auth)
    assert refused.status_code == 409
    webhook_worker()
    assert [r.body for r in hook.received() if b"Clash" in r.body] == []
    assert len(deliveries(db)) == 1


def test_an_event_written_in_a_transaction_that_rolls_back_is_gone(app, alice, receiver, subscribe, db):
    from scheduler import announcements
    from scheduler.context import transaction
    subscribe(alice, receiver().url)
    with app.app_context(), pytest.raises(psycopg2.errors.DivisionByZero):
        with transaction() as cur:
            me = {"user_id": alice.id, "name": "Alice", "email": "alice@example.com", "status": "accepted"}
            announcements.send(app.extensions["runtime"], cur,
                               announcements.booking_webhook("booking.created", {"id": 1}, [me]))
            cur.execute("SELECT count(*) AS written FROM webhook_deliveries")
            assert cur.fetchone()["written"] == 1
            cur.execute("SELECT 1 / 0")
    assert deliveries(db) == []


def test_rotation_signs_with_both_secrets_for_a_day(client, alice, receiver, subscribe, webhook_worker, db):
    hook = receiver()
    old = subscribe(alice, hook.url)["secret"]
    rotated = client.post(f"/api/v1/webhooks/{hook_id(client, alice)}/rotate-secret", headers=alice.auth).json
    new = rotated["webhook"]["secret"]
    assert new != old and new.startswith("whsec_") and rotated["webhook"]["previous_secret_expires_at"]
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    [request] = hook.received()
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret, signature in zip((new, old), signatures):
        verified(secret, request.__class__(request.path, request.headers | {"webhook-signature": signature},
                                          request.body))
    with db.cursor() as cur:
        cur.execute("UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'")
    client.post("/api/v1/bookings", json=slot("11:00", "12:00"), headers=alice.auth)
    webhook_worker()
    assert len(hook.received()[1].headers["webhook-signature"].split(" ")) == 1
    verified(new, hook.received()[1])


def hook_id(client, user):
    [webhook] = client.get("/api/v1/webhooks", headers=user.auth).json
    return webhook["id"]


def test_an_organization_endpoint_hears_its_accepted_members_bookings(client, alice, bob, register, receiver,
                                                                      subscribe, webhook_worker):
    carol = register("Carol")
    org = client.post("/api/v1/organizations", json={"name": "Team"}, headers=alice.auth).json["organization"]
    for member in (bob, carol):
        client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": member.email}, headers=alice.auth)
    client.post(f"/api/v1/organizations/{org['id']}/accept", headers=bob.auth)  # carol has not accepted
    hook = receiver()
    webhook = subscribe(alice, hook.url, organization_id=org["id"])
    bobs = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Bob's"), headers=bob.auth)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Carol's"), headers=carol.auth)
    webhook_worker()
    [request] = hook.received()
    assert verified(webhook["secret"], request)["data"] == bobs.json["booking"]


def test_the_test_route_sends_a_signed_test_event(client, alice, receiver, subscribe, webhook_worker):
    hook = receiver()
    webhook = subscribe(alice, hook.url)
    r = client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=alice.auth)
    assert r.status_code == 202 and r.json["delivery"]["status"] == "pending"
    webhook_worker()
    event = verified(webhook["secret"], hook.received()[0])
    assert event["type"] == "webhook.test" and event["data"] == {"webhook_id": webhook["id"]}


def test_a_failed_delivery_can_be_retried_by_hand(client, alice, receiver, subscribe, webhook_worker, db):
    hook = receiver(410)
    webhook = subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    [failed] = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=alice.auth).json
    url = f"/api/v1/webhooks/{webhook['id']}/deliveries/{failed['id']}/retry"
    assert client.post(url, headers=alice.auth).status_code == 409  # disabled by the 410
    client.patch(f"/api/v1/webhooks/{webhook['id']}", json={"enabled": True}, headers=alice.auth)
    r = client.post(url, headers=alice.auth)
    assert r.status_code == 202 and r.json["delivery"]["status"] == "pending"
    webhook_worker()
    assert deliveries(db) == [("booking.created", "delivered", 2)]
    first, second = hook.received()
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_a_hung_receiver_is_cut_off_at_the_total_timeout(client, alice, receiver, subscribe, webhook_worker):
    hook = receiver(HANG)
    webhook = subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    [attempt] = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=alice.auth).json[0]["attempts"]
    assert "timed out" in attempt["error"] and 1900 <= attempt["latency_ms"] < 4000


def delivery_ids(db):
    with db.cursor() as cur:
        cur.execute("SELECT id FROM webhook_deliveries ORDER BY id")
        return [row[0] for row in cur.fetchall()]


def test_an_endpoints_deliveries_wait_for_its_attempt_in_flight(client, alice, receiver, subscribe, webhook_worker,
                                                                 db):
    hook = receiver(HANG)
    subscribe(alice, hook.url)
    for hour in ("09:00", "10:00"):
        client.post("/api/v1/bookings", json=slot(hour, hour[:2] + ":30"), headers=alice.auth)
    first, second = delivery_ids(db)
    in_flight = threading.Thread(target=webhook_delivery.deliver, args=(first,))
    in_flight.start()
    try:
        assert wait_until(lambda: len(hook.received()) == 1, 5)
        webhook_worker()  # both deliveries' jobs: one is taken, the other's endpoint is busy
        assert len(hook.received()) == 1
    finally:
        in_flight.join(10)
    # The attempt that timed out handed over to the waiting delivery, and that one to the retry.
    webhook_worker()
    assert [r.headers["webhook-id"] for r in hook.received()] == [message_id(db, id) for id in (first, second, first)]
    assert deliveries(db) == [("booking.created", "delivered", 2), ("booking.created", "delivered", 1)]


def message_id(db, delivery_id):
    with db.cursor() as cur:
        cur.execute("SELECT message_id FROM webhook_deliveries WHERE id = %s", (delivery_id,))
        return cur.fetchone()[0]


def test_an_endpoint_that_keeps_timing_out_is_backed_off(client, alice, receiver, subscribe, webhook_worker, settings,
                                                         travel, db):
    hook = receiver(HANG)
    subscribe(alice, hook.url)
    runtime = start_worker(settings.replace(webhook_retry_schedule=(60, 600)))
    try:
        for hour in ("09:00", "10:00"):
            client.post("/api/v1/bookings", json=slot(hour, hour[:2] + ":30"), headers=alice.auth)
        webhook_worker()
        assert len(hook.received()) == 1  # the other delivery waits out the back-off instead of hanging too
        with db.cursor() as cur:
            cur.execute("SELECT timeouts, extract(epoch FROM backoff_until - now()) FROM webhook_endpoints")
            [(timeouts, backoff)] = cur.fetchall()
            cur.execute("SELECT extract(epoch FROM next_attempt_at - now()) FROM webhook_deliveries ORDER BY id")
            postponed = [row[0] for row in cur.fetchall()]
        assert timeouts == 1 and 55 < backoff <= 67
        assert all(55 < seconds <= 67 for seconds in postponed)
        assert webhook_delivery.sweep(runtime) == []
        travel(timedelta(seconds=70))
        assert len(webhook_delivery.sweep(runtime)) == 1  # one at a time per endpoint
        webhook_worker()  # it answers now, and hands over to the other
        assert len(hook.received()) == 3
        assert [row[1] for row in deliveries(db)] == ["delivered", "delivered"]
        with db.cursor() as cur:
            cur.execute("SELECT timeouts, in_flight_delivery_id FROM webhook_endpoints")
            assert cur.fetchone() == (0, None)
    finally:
        runtime.db.close()


def test_a_large_booking_is_abridged_under_the_size_limit():
    from scheduler.webhooks.events import booking_payload
    attendees = [{"user_id": i, "name": "N" * 100, "email": f"{'e' * 240}{i}@example.com", "status": "accepted"}
                 for i in range(50)]
    body = booking_payload("booking.created", {"id": 1, "title": "T" * 255, "attendees": attendees})
    assert len(body.encode()) < MAX_PAYLOAD_BYTES
    assert '"abridged":true' in body and '"user_id":49' in body and "eeee" not in body


def test_a_large_seated_booking_is_abridged_under_the_size_limit():
    from scheduler.webhooks.events import booking_payload
    guests = [{"id": i, "name": "N" * 100, "email": f"{'e' * 240}{i}@example.com", "timezone": "UTC", "notes": None,
               "status": "confirmed", "no_show": False} for i in range(1000)]
    seats = {"capacity": 1000, "taken": 1000, "guests": guests}
    body = booking_payload("booking.updated", {"id": 1, "title": "T", "attendees": [], "seats": seats})
    assert len(body.encode()) < MAX_PAYLOAD_BYTES
    assert '"abridged":true' in body and '"taken":1000' in body and "eeee" not in body


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl) and a server context that presents it."""
    import shutil
    import ssl
    import subprocess
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def test_https_certificates_are_verified(client, alice, receiver, subscribe, webhook_worker, certificate, db):
    hook = receiver(tls=certificate[1])
    webhook = subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    [attempt] = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=alice.auth).json[0]["attempts"]
    assert "CERTIFICATE_VERIFY_FAILED" in attempt["error"] and hook.received() == []


def test_https_to_a_trusted_certificate_is_delivered(client, alice, receiver, subscribe, webhook_worker, certificate,
                                                     monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust it, as a system CA store would
    hook = receiver(tls=certificate[1])
    webhook = subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    [request] = hook.received()
    assert verified(webhook["secret"], request)["type"] == "booking.created"


def test_guest_bookings_fire_the_same_events(client, host, make_type, receiver, subscribe, webhook_worker):
    from tests.booking_links import GUEST, at, booked, local_day
    make_type()
    hook = receiver()
    webhook = subscribe(host, hook.url, events=["booking.created", "booking.updated", "booking.cancelled"])
    day = local_day()
    made = booked(client, at(day, "10:00"))
    token = made["manage_token"]
    moved = client.post(f"{GUEST}/{token}/reschedule", json={"start": at(day, "11:00").isoformat()})
    assert moved.status_code == 200, moved.json
    cancelled = client.post(f"{GUEST}/{token}/cancel", json={"reason": "ill"})
    assert cancelled.status_code == 200, cancelled.json
    webhook_worker()
    events = sorted((verified(webhook["secret"], r) for r in hook.received()), key=lambda e: e["timestamp"])
    assert [(e["type"], e.get("by"), e.get("reason")) for e in events] == [
        ("booking.created", None, None), ("booking.updated", "guest", None), ("booking.cancelled", "guest", "ill")]
    assert all(e["data"]["guest"]["email"] == "gus@example.com" for e in events)
    assert [e["data"]["start_time"][11:16] for e in events] == ["10:00", "11:00", "11:00"]
    assert not any("token" in key for e in events for key in e["data"])


def test_an_event_committed_while_redis_is_down_is_delivered_later(client, alice, settings, receiver, subscribe,
                                                                    webhook_worker, redis_conn, travel):
    hook = receiver()
    webhook = subscribe(alice, hook.url)
    down = create_app(settings.replace(redis_url="redis://127.0.0.1:1/0"))
    r = down.test_client().post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    down.extensions["runtime"].db.close()
    assert r.status_code == 201
    assert redis_conn.llen("rq:queue:webhooks") == 0
    runtime = webhook_worker()
    travel(timedelta(seconds=5))
    assert len(webhook_delivery.sweep(runtime)) == 1
    webhook_worker()
    [request] = hook.received()
    assert verified(webhook["secret"], request)["data"] == r.json["booking"]
    assert webhook_delivery.sweep(runtime) == []


def test_a_delivery_job_run_twice_sends_once(client, alice, receiver, subscribe, webhook_worker, db):
    hook = receiver()
    subscribe(alice, hook.url)
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    webhook_worker()
    with db.cursor() as cur:
        cur.execute("SELECT id FROM webhook_deliveries")
        [(delivery_id,)] = cur.fetchall()
    webhook_delivery.deliver(delivery_id)
    assert len(hook.received()) == 1 and deliveries(db) == [("booking.created", "delivered", 1)]
