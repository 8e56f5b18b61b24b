"""worker.py killed with SIGKILL in the middle of a backlog, then another one started once the
dead worker's lease has run out: every email arrives at a real SMTP server. Killed while
sending, the email in hand arrives once; killed after the server took it but before the send
was recorded (the one moment no worker can cover), it arrives twice with the same Message-ID,
so the receiver can drop the copy. The test holds the worker at each moment, so both happen
every run."""

import asyncio
import collections
import signal
import threading
import time

import psycopg2
import pytest
from aiosmtpd.controller import Controller

from conftest import Mailbox, free_port
from helpers import wait_until, worker_process
from scheduler import jobs
from scheduler.db import Database
from scheduler.repositories import messages

BACKLOG = 200
HELD = "backlog-20@example.com"


class HoldingMailbox(Mailbox):
    """Keeps what it receives, except that the message to HELD waits at the end of DATA until
    released: then it is refused (the sender died meanwhile) or taken, as asked."""

    def __init__(self):
        super().__init__()
        self.arrived, self.release, self.take = threading.Event(), threading.Event(), False

    async def handle_DATA(self, server, session, envelope):
        if HELD in envelope.rcpt_tos and not self.release.is_set():
            self.arrived.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            if not self.take:
                return "451 try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def holding_smtp():
    mailbox, port = HoldingMailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, f"smtp://127.0.0.1:{port}"
    mailbox.release.set()
    controller.stop()


def start_worker(settings, smtp_url):
    return worker_process(settings.database_url, settings.redis_url, smtp_url, LOG_LEVEL="ERROR")


def kill(worker):
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)


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


def held_row(db):
    with db.cursor() as cur:
        cur.execute("SELECT id, status FROM email_outbox WHERE recipient = %s", (HELD,))
        return cur.fetchone()


def waiting_for_a_lock(db, statement="%"):
    """Whether a statement (one LIKE `statement`) of this database waits for a lock."""
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    " AND query LIKE %s", (statement,))
        return cur.fetchone()[0] > 0


@pytest.mark.parametrize("moment", ["while sending", "after the server took it, before it was recorded"])
def test_a_worker_killed_mid_backlog_loses_nothing(settings, redis_conn, holding_smtp, db, moment):
    mailbox, smtp_url = holding_smtp
    database = Database(settings.database_url, size=1)
    with database.transaction() as cur:
        backlog = [{"to": f"backlog-{i}@example.com", "template": "WELCOME", "payload": {"name": f"N{i}"}}
                   for i in range(BACKLOG)]
        ids, _, _ = messages.write(cur, notes=[], emails=backlog, webhook_events=[], calendars=[])
    database.close()
    jobs.wake_email_drain(redis_conn)

    first = start_worker(settings, smtp_url)
    blocker = psycopg2.connect(settings.database_url, options="-c lock_timeout=30s")  # never waits unbounded
    try:
        assert mailbox.arrived.wait(120), "the first worker never reached the held email"
        held_id, status = held_row(db)
        assert status == "sending"
        if moment == "while sending":
            kill(first)
        else:  # the server takes the message; recording it waits for our lock on the row, and dies
            with blocker.cursor() as cur:
                cur.execute("SELECT 1 FROM email_outbox WHERE id = %s FOR UPDATE", (held_id,))
            mailbox.take = True
            mailbox.release.set()
            assert wait_until(lambda: waiting_for_a_lock(db), 30), "the worker did not get to recording the send"
            kill(first)
            blocker.rollback()
        mailbox.release.set()
    finally:
        blocker.close()
        if first.poll() is None:
            kill(first)
    assert len(mailbox.messages) < BACKLOG
    assert held_row(db)[1] == "sending"

    with db.cursor() as cur:  # five minutes pass: the dead worker's lease on the row runs out
        cur.execute("UPDATE email_outbox SET locked_until = now() - interval '1 second' WHERE status = 'sending'")
    second = start_worker(settings, smtp_url)
    try:
        assert drained(db), "the second worker stopped short of the backlog"
    finally:
        second.terminate()
        second.wait(30)

    received = collections.Counter((m["To"], m["Message-ID"]) for m in mailbox.received())
    assert {to for to, _ in received} == {f"backlog-{i}@example.com" for i in range(BACKLOG)}  # nothing lost
    assert len({message_id for _, message_id in received}) == BACKLOG  # one Message-ID per row
    twice = [to for (to, _), count in received.items() if count > 1]
    assert twice == ([] if moment == "while sending" else [HELD]) and max(received.values()) <= 2


def test_an_email_whose_worker_died_before_claiming_it_is_sent_in_seconds(settings, redis_conn, mailbox, smtp_server,
                                                                          db):
    """Killed between taking the drain from the queue and claiming a row, a worker leaves RQ
    believing the drain runs until its timeout has passed (minutes): the sweep of another worker
    enqueues a drain once the row has waited OUTBOX_REQUEUE_AFTER (here 1 s) untaken."""
    smtp_url = smtp_server[1]
    database = Database(settings.database_url, size=1)
    with database.transaction() as cur:
        late = [{"to": "late@example.com", "template": "WELCOME", "payload": {"name": "Late"}}]
        messages.write(cur, notes=[], emails=late, webhook_events=[], calendars=[])
    database.close()
    blocker = psycopg2.connect(settings.database_url, options="-c lock_timeout=30s")
    with blocker.cursor() as cur:  # the worker's claim waits here, after RQ has marked the drain started
        cur.execute("LOCK TABLE email_outbox IN EXCLUSIVE MODE")
    jobs.wake_email_drain(redis_conn)
    [drain_id] = jobs.email_queue(redis_conn).job_ids
    first = start_worker(settings, smtp_url)
    try:
        # A claim sets attempts; the worker's sweep, also held by the lock, does not.
        assert wait_until(lambda: waiting_for_a_lock(db, "%attempts = attempts + 1%"), 30), \
            "the worker did not get to claiming the row"
        kill(first)
    finally:
        blocker.rollback()
        blocker.close()
        if first.poll() is None:
            kill(first)
    assert jobs.Job.fetch(drain_id, connection=redis_conn).get_status() == "started"

    second = start_worker(settings, smtp_url)
    try:
        assert wait_until(lambda: unsent(db) == 0, 30), "the email was not sent within 30 s"
    finally:
        second.terminate()
        second.wait(30)
    assert [m["To"] for m in mailbox.received()] == ["late@example.com"]
