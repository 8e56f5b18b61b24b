"""worker.py as a real process: a webhook receiver that hangs does not hold up email."""

import os
import subprocess
import sys
import time

from helpers import slot
from receivers import HANG

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_until(check, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_hanging_receiver_does_not_delay_emails(client, register, settings, receiver, mailbox, smtp_server, db):
    alice = register("Alice")
    hook = receiver(HANG, HANG, HANG)
    r = client.post("/api/v1/webhooks", json={"url": hook.url, "events": ["booking.created"]}, headers=alice.auth)
    assert r.status_code == 201
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "EMAIL_PROVIDER": "smtp", "SMTP_URL": smtp_server[1], "OUTBOX_POLL_SECONDS": "0.5",
           "OUTBOX_REQUEUE_AFTER": "1", "LOG_LEVEL": "WARNING", "WEBHOOK_ALLOW_PRIVATE": "true",
           "WEBHOOK_TIMEOUT": "30"}
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
