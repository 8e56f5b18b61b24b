"""Where background work is enqueued; the only module that knows RQ queue names and job ids."""

import logging
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


def delivery_job_id(email_id):
    """One job id per outbox row, so whether the row has a live job is one lookup."""
    return f"email-{email_id}"


def webhook_job_id(delivery_id):
    return f"webhook-{delivery_id}"


def calendar_write_job_id(write_id):
    return f"calendar-write-{write_id}"


def enqueue(queue, function, job_id, row_ids):
    """Enqueues one job per outbox row. Never raises for Redis trouble: the rows stay pending
    and the worker's sweep enqueues them once Redis answers again."""
    if not row_ids:
        return
    try:
        queue.enqueue_many([
            Queue.prepare_data(function, args=(row_id,), job_id=job_id(row_id), result_ttl=0,
                               failure_ttl=86400, timeout=DELIVERY_TIMEOUT)
            for row_id in row_ids
        ])
    except redis.RedisError as exc:
        log.warning("could not enqueue %s %s, the outbox sweep will: %s", queue.name, row_ids, exc)


def send_emails(connection, email_ids):
    enqueue(email_queue(connection), DELIVER, delivery_job_id, email_ids)


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
    send_emails(connection, queued.emails)
    deliver_webhooks(connection, queued.webhooks)
    write_calendars(connection, queued.calendar_writes)


def without_live_jobs(connection, row_ids, job_id=delivery_job_id, *, started_within):
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
