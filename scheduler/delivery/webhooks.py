"""Webhook delivery: the RQ job that makes one attempt of a delivery, and the sweep that
enqueues due retries. Runs on its own queue and thread, so a slow receiver never holds up email."""

import logging
import random
import time
from datetime import timedelta

from .. import announcements as announce, clock, jobs
from ..db import retrying
from ..repositories import webhooks
from ..runtime import worker_runtime
from ..sealing import WEBHOOK_SECRET
from ..webhooks.sender import post
from ..webhooks.signing import signed_headers
from . import leases
from .leases import LEASE_SECONDS

# A run of failures this long disables the endpoint (and its managers are told).
FAILING_LIMIT = timedelta(days=1)
# The most a Retry-After may postpone the next attempt.
MAX_RETRY_AFTER = 86400

log = logging.getLogger("scheduler.webhooks")


def next_delay(schedule, attempts, retry_after):
    """Seconds until the next attempt after `attempts` failed ones: the schedule's delay plus up
    to 10% jitter, or the receiver's Retry-After if that is longer."""
    base = schedule[min(attempts, len(schedule)) - 1] if schedule else 0
    delay = base + random.uniform(0, base * 0.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


@retrying
def deliver(delivery_id):
    """RQ job: one attempt of delivery `delivery_id`, unless it is not due, already taken or
    finished, or its endpoint is disabled."""
    rt = worker_runtime()
    settings = rt.settings
    with rt.db.transaction() as cur:
        claimed = webhooks.claim(cur, delivery_id, now=clock.now(), lease_seconds=LEASE_SECONDS)
    if claimed is None:
        return
    body = claimed["payload"].encode()
    keys = [settings.secret_keys.open_text(sealed, WEBHOOK_SECRET)
            for sealed in (claimed["secret_sealed"], claimed["previous_secret_sealed"]) if sealed is not None]
    headers = signed_headers(keys, claimed["message_id"], int(time.time()), body)
    outcome = post(claimed["url"], body, headers, connect_timeout=settings.webhook_connect_timeout,
                   total_timeout=settings.webhook_timeout, allow_private=settings.webhook_allow_private)
    with rt.db.transaction() as cur:
        logged = webhooks.add_attempt(cur, delivery_id, response_status=outcome.status,
                                      latency_ms=outcome.latency_ms,
                                      error=outcome.error or (None if outcome.ok else f"HTTP {outcome.status}"))
        if not logged:
            return
        if outcome.ok:
            webhooks.mark_delivered(cur, delivery_id)
            return
        now = clock.now()
        gone = outcome.status == 410
        result = webhooks.record_failure(
            cur, delivery_id, now=now, final=gone,
            delay_seconds=next_delay(settings.webhook_retry_schedule, claimed["attempts"], outcome.retry_after))
        if gone:
            disable(rt, cur, claimed["endpoint_id"], "the receiver answered 410 Gone")
        elif result["failing_since"] <= now - FAILING_LIMIT:
            disable(rt, cur, claimed["endpoint_id"], "every attempt failed for more than a day")
    log.info("webhook delivery %s: attempt %s failed (%s), now %s", delivery_id, claimed["attempts"],
             outcome.error or outcome.status, result["status"])


def disable(rt, cur, endpoint_id, reason):
    """Disables the endpoint and tells its managers, once."""
    endpoint = webhooks.disable(cur, endpoint_id, reason)
    if endpoint is not None:
        announce.send(rt, cur, announce.webhook_disabled(endpoint, webhooks.managers(cur, endpoint_id), reason))


@retrying
def sweep(rt):
    """Enqueues due deliveries that have no live job (delivery/leases.py)."""
    return leases.sweep(rt, take_due=webhooks.take_due, job_id=jobs.webhook_job_id, enqueue=jobs.deliver_webhooks,
                        what="webhook")
