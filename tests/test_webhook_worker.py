"""worker.py as a real process: a webhook receiver that hangs holds up neither email nor other
people's webhooks."""

import time

from helpers import slot, wait_until, worker_process
from receivers import HANG


def test_a_hanging_receiver_does_not_delay_emails(client, register, settings, receiver, mailbox, smtp_server, db):
    alice = register("Alice")
    hook = receiver(HANG, HANG, HANG)
    r = client.post("/api/v1/webhooks", json={"url": hook.url, "events": ["booking.created"]}, headers=alice.auth)
    assert r.status_code == 201
    worker = worker_process(settings.database_url, settings.redis_url, smtp_server[1],
                            WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_TIMEOUT="30")
    try:
        for hour in ("09:00", "10:00", "11:00"):
            client.post("/api/v1/bookings", json=slot(hour, hour[:2] + ":30"), headers=alice.auth)
        assert wait_until(lambda: len(hook.received()) == 1), "the webhook was not sent"
        mailbox.clear()
        bob = register("Bob")
        assert wait_until(lambda: any(m["To"] == bob.email for m in mailbox.received())), \
            "the welcome email waited for the hanging receiver"
        # Still hanging: the email went out while the webhook worker was stuck on the receiver.
        assert len(hook.received()) == 1
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM webhook_attempts")
            assert cur.fetchone() == (0,)
    finally:
        worker.terminate()
        worker.wait(20)


def test_hung_receivers_of_one_user_do_not_delay_anothers_webhooks(client, register, settings, receiver,
                                                                   hung_listener, smtp_server):
    alice, bob = register("Alice"), register("Bob")
    hung = [hung_listener() for _ in range(3)]
    healthy = receiver()
    for user, url in [(alice, listener.url) for listener in hung] + [(bob, healthy.url)]:
        r = client.post("/api/v1/webhooks", json={"url": url, "events": ["booking.created"]}, headers=user.auth)
        assert r.status_code == 201
    # The defaults (threads, timeouts, retry schedule) are what is shown here.
    worker = worker_process(settings.database_url, settings.redis_url, smtp_server[1], WEBHOOK_ALLOW_PRIVATE="true")
    try:
        for hour in range(8, 18):  # 10 bookings, 30 deliveries to hung receivers
            r = client.post("/api/v1/bookings", json=slot(f"{hour:02}:00", f"{hour:02}:30"), headers=alice.auth)
            assert r.status_code == 201
        assert wait_until(lambda: any(listener.accepted for listener in hung)), "alice's webhooks were not sent"
        booked = time.monotonic()
        r = client.post("/api/v1/bookings", json=slot("09:00", "09:30"), headers=bob.auth)
        assert r.status_code == 201
        assert wait_until(lambda: healthy.received(), 20), "bob's webhook waited for alice's hung receivers"
        print(f"bob's delivery arrived {time.monotonic() - booked:.1f} s after his booking")
        assert [listener.most_open for listener in hung] == [1, 1, 1]  # one attempt in flight per endpoint
    finally:
        worker.terminate()
        worker.wait(20)
