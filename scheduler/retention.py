"""Bounded data: the worker deletes what the service no longer needs (see
repositories/retention.py for what that is), by age from the RETENTION_* settings.

One worker at a time: each batch is its own short transaction that first tries the
`retention` advisory lock (transaction-scoped, so it works through PgBouncer in transaction
mode); a worker that finds it taken leaves the run to the worker holding it. Batches are small
and skip locked rows, so writers never wait on the purge."""

import logging

from . import clock
from .repositories import retention
from .repositories.locks import try_lock_named

log = logging.getLogger("scheduler.retention")

MAX_BATCHES = 100  # per kind and run; what is left waits for the next run


def ages(settings):
    """Days each kind is kept (revocations, idempotency keys: until they expire)."""
    return {
        "emails": settings.retention_email_days,
        "webhook_deliveries": settings.retention_webhook_days,
        "read_notifications": settings.retention_notification_days,
        "analytics_events": settings.retention_analytics_days,
        "revocations": 0,
        "idempotency_keys": 0,
    }


def purge(db, settings):
    """Deletes every kind's rows past its age, batch by batch; returns {kind: rows deleted}, or
    None if another worker holds the lock."""
    deleted = {}
    for kind, days in ages(settings).items():
        deleted[kind] = 0
        for _ in range(MAX_BATCHES):
            with db.transaction() as cur:
                if not try_lock_named(cur, "retention"):
                    return None
                count = retention.delete_batch(cur, kind, days=days, now=clock.now(), limit=settings.retention_batch)
            deleted[kind] += count
            if count < settings.retention_batch:
                break
    if any(deleted.values()):
        log.info("retention: deleted %s", ", ".join(f"{n} {kind}" for kind, n in deleted.items() if n))
    return deleted
