"""worker.py as a real process: a webhook receiver that hangs does not hold up email."""

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
