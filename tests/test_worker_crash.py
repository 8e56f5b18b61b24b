"""worker.py killed with SIGKILL in the middle of a backlog, then another one started: every
email arrives at the SMTP server, and the only one that may arrive twice is the one the dead
worker had in hand, with the same Message-ID, so the receiver can drop it."""

import collections
import os
import signal
import subprocess
import sys
import time

from scheduler import jobs
from scheduler.db import Database
from scheduler.repositories import outbox

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKLOG = 200


def wait_until(check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def start_worker(settings, smtp_url):
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "EMAIL_PROVIDER": "smtp", "SMTP_URL": smtp_url, "OUTBOX_POLL_SECONDS": "0.5",
           "OUTBOX_REQUEUE_AFTER": "1", "LOG_LEVEL": "ERROR"}
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def unsent(db):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM email_outbox WHERE status <> 'sent'")
        return cur.fetchone()[0]


def drained(db, stall=30, limit=300):
    """Waits until every row is sent, as long as rows keep being sent (a loaded machine is
    slow, a stuck worker makes no progress): False after `stall` seconds without progress."""
    deadline, left = time.monotonic() + limit, unsent(db)
    while left and time.monotonic() < deadline:
        if not wait_until(lambda: unsent(db) < left, stall):
            return False
        left = unsent(db)
    return left == 0


def statuses(db):
    with db.cursor() as cur:
        cur.execute("SELECT status, attempts, count(*) FROM email_outbox GROUP BY 1, 2 ORDER BY 1, 2")
        return cur.fetchall()


def sending(db):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM email_outbox WHERE status = 'sending'")
        return cur.fetchone()[0] > 0


def test_a_worker_killed_mid_backlog_loses_nothing_and_repeats_at_most_the_email_in_hand(
        settings, redis_conn, smtp_server, mailbox, db):
    database = Database(settings.database_url, size=1)
    with database.transaction() as cur:
        ids = outbox.add(cur, [{"to": f"backlog-{i}@example.com", "template": "WELCOME", "payload": {"name": f"N{i}"}}
                               for i in range(BACKLOG)])
    database.close()
    jobs.send_emails(redis_conn, ids)

    first = start_worker(settings, smtp_server[1])
    try:
        # Counts raw envelopes: parsing them all on every poll would slow the SMTP server down.
        assert wait_until(lambda: len(mailbox.messages) >= BACKLOG // 10, 120), "the first worker sent too little"
        assert wait_until(lambda: sending(db), 30)  # kill it with an email in hand, most likely
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert len(mailbox.messages) < BACKLOG, "the backlog was gone before the kill: make it bigger"

    with db.cursor() as cur:  # five minutes pass: the lease of the email the dead worker held runs out
        cur.execute("UPDATE email_outbox SET locked_until = now() - interval '1 second' WHERE status = 'sending'")
        held = cur.rowcount
    second = start_worker(settings, smtp_server[1])
    try:
        assert drained(db), f"the second worker stopped short of the backlog: {statuses(db)}"
    finally:
        second.terminate()
        second.wait(30)

    received = collections.Counter((m["To"], m["Message-ID"]) for m in mailbox.received())
    assert {to for to, _ in received} == {f"backlog-{i}@example.com" for i in range(BACKLOG)}  # nothing lost
    assert len({message_id for _, message_id in received}) == BACKLOG  # one Message-ID per row
    repeated = [key for key, count in received.items() if count > 1]
    assert len(repeated) <= held <= 1 and all(count <= 2 for count in received.values())
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM email_outbox WHERE attempts > 1")
        assert cur.fetchone()[0] == held
