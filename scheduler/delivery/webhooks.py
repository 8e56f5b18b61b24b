"""Webhook delivery: the RQ job that makes one attempt of a delivery, and the sweep that
enqueues due retries. Runs on its own queue and threads (WEBHOOK_CONCURRENCY per worker), so a
slow receiver never holds up email; at most one attempt per endpoint is in flight, so a hung
receiver holds at most one of those threads, and only until it times out and is backed off."""

import logging
import time
from datetime import timedelta

from .. import announcements as announce, clock, jobs
from ..db import retrying
from ..outbound import send
from ..repositories import webhooks
from ..runtime import worker_runtime
from ..sealing import WEBHOOK_SECRET
from ..webhooks.signing import signed_headers
from . import leases
from .leases import LEASE_SECONDS, next_delay

USER_AGENT = "Scheduler-Webhooks/1"
# A run of failures this long disables the endpoint (and its managers are told).
FAILING_LIMIT = timedelta(days=1)
# An endpoint's attempt in flight blocks its other deliveries for at most WEBHOOK_TIMEOUT plus
# this (recording the outcome); a worker that dies mid-attempt frees the endpoint as soon.
ENDPOINT_LEASE_MARGIN = 10

log = logging.getLogger("scheduler.webhooks")


@retrying
def deliver(delivery_id):
    """RQ job: one attempt of delivery `delivery_id`, unless it is not due, already taken or
    finished, or its endpoint is disabled, backed off or busy with another attempt. A job that
    finds its endpoint busy ends at once instead of holding a webhook thread: the attempt in flight
    hands over to the endpoint's next waiting delivery when it ends."""
    rt = worker_runtime()
    settings = rt.settings
    with rt.db.transaction() as cur:
        claimed = webhooks.claim(cur, delivery_id, now=clock.now(), lease_seconds=LEASE_SECONDS,
                                 endpoint_lease_seconds=settings.webhook_timeout + ENDPOINT_LEASE_MARGIN)
    if claimed is None:
        return
    body = claimed["payload"].encode()
    keys = [settings.secret_keys.open_text(sealed, WEBHOOK_SECRET)
            for sealed in (claimed["secret_sealed"], claimed["previous_secret_sealed"]) if sealed is not None]
    headers = signed_headers(keys, claimed["message_id"], int(time.time()), body)
    outcome = send("POST", claimed["url"], body,
                   headers | {"Content-Type": "application/json", "User-Agent": USER_AGENT},
                   connect_timeout=settings.webhook_connect_timeout, total_timeout=settings.webhook_timeout,
                   allow_private=settings.egress_allow_private)
    with rt.db.transaction() as cur:
        logged = webhooks.add_attempt(cur, delivery_id, response_status=outcome.status,
                                      latency_ms=outcome.latency_ms,
                                      error=outcome.error or (None if outcome.ok else f"HTTP {outcome.status}"))
        if logged:
            record(rt, cur, claimed, outcome)
        free_endpoint(rt, cur, claimed, outcome)


def record(rt, cur, claimed, outcome):
    """The attempt's result: delivered, or the next attempt scheduled (or none left); a 410 or a
    day of failures disables the endpoint."""
    if outcome.ok:
        webhooks.mark_delivered(cur, claimed["id"])
        return
    now = clock.now()
    gone = outcome.status == 410
    result = webhooks.record_failure(
        cur, claimed["id"], now=now, final=gone,
        delay_seconds=next_delay(rt.settings.webhook_retry_schedule, claimed["attempts"], outcome.retry_after))
    if gone:
        disable(rt, cur, claimed["endpoint_id"], "the receiver answered 410 Gone")
    elif result["failing_since"] <= now - FAILING_LIMIT:
        disable(rt, cur, claimed["endpoint_id"], "every attempt failed for more than a day")
    log.info("webhook delivery %s: attempt %s failed (%s), now %s", claimed["id"], claimed["attempts"],
             outcome.error or outcome.status, result["status"])


def free_endpoint(rt, cur, claimed, outcome):
    """Ends the attempt in flight at the endpoint. An endpoint that got no answer in time is
    backed off (the n-th timeout in a row for the n-th delay of the retry schedule), so its
    waiting deliveries hold no webhook thread until then; otherwise its oldest waiting delivery is
    enqueued after the commit, under a job id of its own (its first job may still be finishing)."""
    endpoint_id = claimed["endpoint_id"]
    timeouts = webhooks.release(cur, endpoint_id, claimed["id"], timed_out=outcome.timed_out)
    if timeouts is None:
        return
    now = clock.now()
    if timeouts:
        pause = next_delay(rt.settings.webhook_retry_schedule, timeouts, None)
        webhooks.back_off(cur, endpoint_id, until=now + timedelta(seconds=pause))
        log.info("webhook endpoint %s: %s attempts in a row timed out, backed off for %.0f s", endpoint_id,
                 timeouts, pause)
    waiting = webhooks.next_waiting(cur, endpoint_id, now=now, after=claimed["id"])
    if waiting is not None:
        rt.db.after_commit(jobs.hand_over_webhook, rt.redis, waiting, claimed["id"], claimed["attempts"])


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
