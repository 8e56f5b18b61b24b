"""What email, webhook and calendar-write delivery share. A job claims its row under a lease
(LEASE_SECONDS) before sending, so no two workers send it at once; a row whose lease ran out was
abandoned by a worker that died. Webhook deliveries and calendar writes have a job each: their
sweep finds rows that are due but may have no job (never enqueued because Redis was down,
retries whose delay passed, abandoned sends) and enqueues them. They retry on one schedule
(`next_delay`)."""

import logging
import random

from .. import clock, jobs

LEASE_SECONDS = 300
SWEEP_BATCH = 500
# The most a Retry-After may postpone the next attempt.
MAX_RETRY_AFTER = 86400

log = logging.getLogger("scheduler.delivery")


def sweep(rt, *, take_due, job_id, enqueue, what):
    """Enqueues the rows `take_due` answers that have no live job; a row whose lease ran out is
    enqueued whatever Redis says of its job: that job died with its worker, as did one that
    started OUTBOX_REQUEUE_AFTER ago without claiming its row. Returns their ids."""
    requeue_after = rt.settings.outbox_requeue_after
    with rt.db.transaction() as cur:
        rows = take_due(cur, now=clock.now(), requeue_after=requeue_after, limit=SWEEP_BATCH)
    abandoned = [row["id"] for row in rows if row["status"] == "sending"]
    pending = [row["id"] for row in rows if row["status"] == "pending"]
    due = abandoned + (jobs.without_live_jobs(rt.redis, pending, job_id, started_within=requeue_after)
                       if pending else [])
    if due:
        log.info("%s sweep: enqueuing %d due", what, len(due))
        enqueue(rt.redis, due)
    return due


def next_delay(schedule, attempts, retry_after):
    """Seconds until the next attempt after `attempts` failed ones: the schedule's delay plus up
    to 10% jitter, or the server's Retry-After if that is longer."""
    base = schedule[min(attempts, len(schedule)) - 1] if schedule else 0
    delay = base + random.uniform(0, base * 0.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
