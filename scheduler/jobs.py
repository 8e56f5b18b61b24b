"""Where background work is enqueued; the only module that knows the RQ queue names."""

import logging

import redis
from rq import Queue

EMAIL_QUEUE = "emails"
DELIVER = "scheduler.mail.delivery.deliver"

log = logging.getLogger("scheduler.jobs")


def email_queue(connection):
    return Queue(EMAIL_QUEUE, connection=connection)


def send_emails(connection, email_ids):
    """Enqueues delivery of outbox rows. Never raises for Redis trouble: the outbox row stays
    pending and the worker's sweep enqueues it once Redis answers again."""
    if not email_ids:
        return
    queue = email_queue(connection)
    try:
        queue.enqueue_many([
            Queue.prepare_data(DELIVER, args=(email_id,), result_ttl=0, failure_ttl=86400, timeout=120)
            for email_id in email_ids
        ])
    except redis.RedisError as exc:
        log.warning("could not enqueue emails %s, the outbox sweep will: %s", email_ids, exc)
