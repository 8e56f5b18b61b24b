"""The worker side of the outbox: the RQ job that sends one row, and the periodic sweep."""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

import psycopg2
import redis

from .. import clock, jobs
from ..calendar import to_ics
from ..config import Settings
from ..db import Database, PoolExhausted, retrying
from ..links import manage_url
from ..ratelimit import RateLimiter
from ..timezones import display
from ..repositories import outbox, outgoing
from .providers import provider_for
from .templates import render

LEASE_SECONDS = 300
# Recording a send that went out is retried until this long before the lease ends, when
# another worker could take the row and send it again.
LEASE_MARGIN = 20
RECORD_RETRY_MAX_DELAY = 5
# How much longer a worker asked to stop keeps trying to record a send.
STOP_GRACE = 5
SWEEP_BATCH = 500

log = logging.getLogger("scheduler.mail")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    provider: object
    limiter: RateLimiter
    stopping: threading.Event = field(default_factory=threading.Event)  # set when the worker is asked to stop


_runtime = None


def configure(settings):
    """Sets what the delivery job uses in this process; worker.py and the tests call it."""
    global _runtime
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    _runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url, size=4),  # a job of each worker thread, the sweep, the snapshot refresher
        redis=client,
        provider=provider_for(settings),
        limiter=RateLimiter(client),
    )
    return _runtime


def runtime():
    return _runtime or configure(Settings.from_env())


def compose(row, settings):
    rendered = render(row["template"], with_manage_url(row["payload"], settings.jwt_secret))
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = row["recipient"]
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    # Stable per outbox row: a receiver can drop the copy a crash mid-send may cause.
    message["Message-ID"] = f"<outbox-{row['id']}.{int(row['created_at'].timestamp())}@{settings.mail_domain}>"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if "ics" in row["payload"]:
        invite = row["payload"]["ics"]
        ics = to_ics([invite["event"]], method=invite["method"], zone_name=row["payload"].get("timezone", "UTC"))
        message.add_attachment(ics, maintype="text",
                               subtype="calendar", filename="invite.ics", params={"method": invite["method"]})
    return message


def with_manage_url(payload, secret):
    """A guest's email carries their manage link, made now: the outbox keeps only its salt."""
    if "manage" not in payload:
        return payload
    rest = {key: value for key, value in payload.items() if key != "manage"}
    return rest | {"manage_url": manage_url(payload["manage"], secret)}


def wait_for_send_slot(rt):
    """Honours EMAIL_RATE_LIMIT (per minute) across every worker process."""
    limit = rt.settings.email_rate_limit
    while limit:
        window = int(time.time() // 60)
        wait = rt.limiter.hit(f"ratelimit:email:{window}", limit, 120)
        if wait is None:
            return
        time.sleep(60 - time.time() % 60 + 0.01)


@retrying
def deliver(email_id):
    """RQ job: sends outbox row `email_id` unless it was already sent or is being sent."""
    rt = runtime()
    lease_ends = time.monotonic() + LEASE_SECONDS
    with rt.db.transaction() as cur:
        row = outbox.claim(cur, email_id, now=clock.now(), lease_seconds=LEASE_SECONDS)
    if row is None:
        log.info("email %s: already handled or not due, skipping", email_id)
        return
    wait_for_send_slot(rt)
    try:
        rt.provider.send(compose(row, rt.settings))
    except Exception as exc:  # any provider failure is retried, then recorded
        error = f"{type(exc).__name__}: {exc}"[:500]
        with rt.db.transaction() as cur:
            result = outbox.record_failure(
                cur, email_id, now=clock.now(), error=error,
                max_attempts=rt.settings.email_retry_attempts,
                backoff_seconds=rt.settings.email_retry_backoff,
            )
        log.warning("email %s: attempt %s failed (%s), now %s", email_id, result["attempts"], error, result["status"])
        return
    record_sent(rt, row, retry_until=lease_ends - LEASE_MARGIN)


def record_sent(rt, row, *, retry_until):
    """Marks the row sent. A send that is not recorded is sent again once its lease runs out,
    so a database outage here is waited out (with backoff) for as long as the lease allows,
    or for STOP_GRACE seconds once the worker is asked to stop."""
    delay, stop_noticed = 0.1, False
    while True:
        try:
            with rt.db.transaction() as cur:
                if outbox.mark_sent(cur, row["id"], row["recipient"]) and row["reminder_minutes"] is not None \
                        and row["user_id"] is not None:
                    remind_in_app(cur, row)
            return
        except (psycopg2.OperationalError, psycopg2.InterfaceError, PoolExhausted) as exc:
            if rt.stopping.is_set() and not stop_noticed:
                stop_noticed, retry_until = True, min(retry_until, time.monotonic() + STOP_GRACE)
            if time.monotonic() + delay > retry_until:
                log.error("email %s: sent, but not recorded in time; it may be sent again: %s",
                          row["id"], exc)
                raise
            log.warning("email %s: sent; recording it failed, retrying in %.1fs: %s", row["id"], delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX_DELAY)


def remind_in_app(cur, row):
    """A reminder shows in the app when its email goes out."""
    payload = row["payload"]
    outgoing.write(cur, notes=[{
        "user_id": row["user_id"], "kind": "BOOKING_REMINDER", "title": f'Reminder: "{payload["title"]}"',
        "message": f"Starts {display(datetime.fromisoformat(payload['start']), payload['timezone'])}.",
        "metadata": {"booking_id": row["booking_id"]},
    }], emails=[], webhook_events=[])


@retrying
def sweep(rt):
    """Enqueues due rows that have no live job. A row whose
    lease ran out is enqueued whatever Redis says of its job: that job died with its worker."""
    with rt.db.transaction() as cur:
        rows = outbox.take_due(cur, now=clock.now(), requeue_after=rt.settings.outbox_requeue_after,
                               limit=SWEEP_BATCH)
    abandoned = [row["id"] for row in rows if row["status"] == "sending"]
    pending = [row["id"] for row in rows if row["status"] == "pending"]
    due = abandoned + (jobs.without_live_jobs(rt.redis, pending) if pending else [])
    if due:
        log.info("outbox sweep: enqueuing %d due emails", len(due))
        jobs.send_emails(rt.redis, due)
    return due
