"""Where background work is enqueued; the only module that knows RQ queue names and job ids."""

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field

import redis
from rq import Queue
from rq.job import Job as RQJob, JobStatus
from rq.utils import import_attribute

EMAIL_QUEUE = "emails"
# Apart from email, so a slow or hanging webhook receiver never holds up an email.
WEBHOOK_QUEUE = "webhooks"
# Apart from both: a slow or dead CalDAV server holds up neither email nor webhooks.
CALENDAR_QUEUE = "calendars"
DRAIN_EMAILS = "scheduler.delivery.emails.drain"
# Jobs of one outbox row each, as emails were queued before drains (2026-12): drop a release on.
DELIVER = "scheduler.delivery.emails.deliver"
DELIVER_WEBHOOK = "scheduler.delivery.webhooks.deliver"
WRITE_CALENDAR = "scheduler.delivery.calendars.write"
# Where these lived before 2026-12: Redis may still hold jobs queued under those names when a
# deploy moves them. Drop an entry a release after its move.
MOVED = {"scheduler.mail.delivery.deliver": DELIVER, "scheduler.webhooks.delivery.deliver": DELIVER_WEBHOOK}
# Longer than the outbox lease (delivery/leases.py), so RQ never cuts off a job that is still
# recording a send through a database outage; a webhook attempt's own limit (WEBHOOK_TIMEOUT,
# at most 300 s) is shorter too.
DELIVERY_TIMEOUT = 360
# A job in these states will still run (or is running): enqueuing another would only repeat it.
LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
# Set while some drain of the email outbox will still look for due rows: one is queued, or one
# runs and has not yet made its last look (delivery/emails.py:drain clears the flag before it).
# A commit that finds it set leaves its emails to that drain, so a busy minute costs one SET a
# booking rather than an RQ job an email. It expires, in case its drain is lost with Redis or
# its worker; a second drain meanwhile only shares the rows.
DRAIN_PENDING = "scheduler:email-drain-pending"
DRAIN_PENDING_SECONDS = 10
# A drain claims rows for this long, then leaves the rest to a drain it enqueues; it may then
# still be sending its last row, which a delivery job is given DELIVERY_TIMEOUT for.
DRAIN_SECONDS = 60
DRAIN_TIMEOUT = DRAIN_SECONDS + DELIVERY_TIMEOUT

log = logging.getLogger("scheduler.jobs")


class Job(RQJob):
    """RQ's job, but one queued under a function's old name (MOVED) runs the function where it
    is now. The worker runs every job as this class."""

    @property
    def func(self):
        return import_attribute(MOVED.get(self.func_name, self.func_name))


@dataclass
class Queued:
    """Outbox rows a transaction wrote: email ids, webhook delivery ids and calendar writes
    ([id, version] pairs), to enqueue (with `dispatch`) once it has committed."""

    emails: list = field(default_factory=list)
    webhooks: list = field(default_factory=list)
    calendar_writes: list = field(default_factory=list)


def email_queue(connection):
    return Queue(EMAIL_QUEUE, connection=connection)


def webhook_queue(connection):
    return Queue(WEBHOOK_QUEUE, connection=connection)


def calendar_queue(connection):
    return Queue(CALENDAR_QUEUE, connection=connection)


def webhook_job_id(delivery_id):
    return f"webhook-{delivery_id}"


def calendar_write_job_id(write_id):
    return f"calendar-write-{write_id}"


@contextmanager
def redis_trouble_logged(what):
    """Never raises for Redis trouble: what it would have queued stays due in the database,
    and the worker's sweep enqueues it once Redis answers again."""
    try:
        yield
    except redis.RedisError as exc:
        log.warning("%s failed, the outbox sweep will see to it: %s", what, exc)


def enqueue(queue, function, job_id, row_ids):
    """Enqueues one job per outbox row."""
    if not row_ids:
        return
    with redis_trouble_logged(f"enqueuing {queue.name} {row_ids}"):
        queue.enqueue_many([
            Queue.prepare_data(function, args=(row_id,), job_id=job_id(row_id), result_ttl=0,
                               failure_ttl=86400, timeout=DELIVERY_TIMEOUT)
            for row_id in row_ids
        ])


def wake_email_drain(connection):
    """After a commit that wrote emails to send now: enqueues a drain of the outbox, unless a
    drain will still look for due rows (DRAIN_PENDING). A flag whose drain could not be
    enqueued is dropped again, so the next commit tries."""
    with redis_trouble_logged("waking an email drain"):
        if connection.set(DRAIN_PENDING, 1, nx=True, ex=DRAIN_PENDING_SECONDS):
            try:
                enqueue_drain(connection)
            except redis.RedisError:
                connection.delete(DRAIN_PENDING)
                raise


def drain_emails(connection):
    """Enqueues a drain of the outbox whatever DRAIN_PENDING says: for the sweep, which found
    rows no drain took, and for a drain that leaves rows to others."""
    with redis_trouble_logged("enqueuing an email drain"):
        enqueue_drain(connection)


def enqueue_drain(connection):
    email_queue(connection).enqueue(DRAIN_EMAILS, result_ttl=0, failure_ttl=86400, job_timeout=DRAIN_TIMEOUT)


def last_look(connection):
    """A drain is about to look for due rows for the last time: a commit from now on wakes
    another. (Should Redis fail here, the flag expires within DRAIN_PENDING_SECONDS.)"""
    with redis_trouble_logged("clearing the email drain's flag"):
        connection.delete(DRAIN_PENDING)


def deliver_webhooks(connection, delivery_ids):
    enqueue(webhook_queue(connection), DELIVER_WEBHOOK, webhook_job_id, delivery_ids)


def hand_over_webhook(connection, delivery_id, finished_id, attempt):
    """Enqueues a delivery that waited for its endpoint's attempt in flight (`finished_id`'s
    `attempt`-th) to end. Its own job id, unique per hand-over: the delivery's first job may still
    be finishing, and RQ deletes a finished job's record, which would drop a job queued under its id."""
    enqueue(webhook_queue(connection), DELIVER_WEBHOOK,
            lambda row_id: f"{webhook_job_id(row_id)}-after-{finished_id}-{attempt}", [delivery_id])


def write_calendars(connection, writes):
    """Enqueues the calendar writes a change set ([id, version] pairs), each under a job id of
    its version: a row changed while its previous job runs gets a job of its own, which RQ
    would otherwise drop with the finished job's record (it deletes that by id)."""
    versions = dict(writes)
    enqueue(calendar_queue(connection), WRITE_CALENDAR,
            lambda write_id: f"{calendar_write_job_id(write_id)}-v{versions[write_id]}", list(versions))


def sweep_calendar_writes(connection, write_ids):
    """Enqueues calendar writes the sweep found due without a job."""
    enqueue(calendar_queue(connection), WRITE_CALENDAR, calendar_write_job_id, write_ids)


def dispatch(connection, queued):
    if queued.emails:
        wake_email_drain(connection)
    deliver_webhooks(connection, queued.webhooks)
    write_calendars(connection, queued.calendar_writes)


def without_live_jobs(connection, row_ids, job_id, *, started_within):
    """The rows among `row_ids`, rows not yet claimed, that have no queued or running delivery
    job. A job that started more than `started_within` seconds ago and still hasn't claimed its
    row is not running: its worker died between taking it from the queue and the claim (a live
    one claims at once), and RQ calls it abandoned only once its timeout has passed, minutes
    later. Raises RedisError."""
    jobs = RQJob.fetch_many([job_id(row_id) for row_id in row_ids], connection=connection)
    started_before = datetime.now(timezone.utc) - timedelta(seconds=started_within)
    return [row_id for row_id, job in zip(row_ids, jobs) if job is None or not live(job, started_before)]


def live(job, started_before):
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED and job.started_at is not None:
        return job.started_at.replace(tzinfo=job.started_at.tzinfo or timezone.utc) > started_before
    return status in LIVE
