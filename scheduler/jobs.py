"""Where background work is enqueued; the only module that knows RQ queue names and job ids."""

import logging

import redis
from rq import Queue
from rq.job import Job, JobStatus

EMAIL_QUEUE = "emails"
DELIVER = "scheduler.mail.delivery.deliver"
# Longer than the outbox lease (mail/delivery.py), so RQ never cuts off a job that is still
# recording a send through a database outage.
DELIVERY_TIMEOUT = 360
# A job in these states will still run (or is running): enqueuing another would only repeat it.
LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}

log = logging.getLogger("scheduler.jobs")


def email_queue(connection):
    return Queue(EMAIL_QUEUE, connection=connection)


def delivery_job_id(email_id):
    """One job id per outbox row, so whether the row has a live job is one lookup."""
    return f"email-{email_id}"


def send_emails(connection, email_ids):
    """Enqueues delivery of outbox rows. Never raises for Redis trouble: the outbox row stays
    pending and the worker's sweep enqueues it once Redis answers again."""
    if not email_ids:
        return
    queue = email_queue(connection)
    try:
        queue.enqueue_many([
            Queue.prepare_data(DELIVER, args=(email_id,), job_id=delivery_job_id(email_id), result_ttl=0,
                               failure_ttl=86400, timeout=DELIVERY_TIMEOUT)
            for email_id in email_ids
        ])
    except redis.RedisError as exc:
        log.warning("could not enqueue emails %s, the outbox sweep will: %s", email_ids, exc)


def without_live_jobs(connection, email_ids):
    """The rows among `email_ids` that have no queued or running delivery job. Raises RedisError."""
    jobs = Job.fetch_many([delivery_job_id(email_id) for email_id in email_ids], connection=connection)
    return [email_id for email_id, job in zip(email_ids, jobs)
            if job is None or job.get_status(refresh=False) not in LIVE]
