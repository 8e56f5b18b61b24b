"""Email delivery: the RQ job that drains the outbox (sending due rows one claim at a time),
and the sweep that enqueues a drain for rows nobody took."""

import logging
import time
from email.message import EmailMessage
from email.utils import formatdate

import psycopg2

from .. import announcements as announce, clock, jobs
from ..calendar import as_now, people_in, to_ics
from ..db import PoolExhausted, retrying
from ..links import manage_token, manage_url
from ..mail.templates import render
from ..repositories import email_outbox, users
from ..runtime import worker_runtime
from . import leases
from .leases import LEASE_SECONDS

# Recording a send that went out is retried until this long before the lease ends, when
# another worker could take the row and send it again.
LEASE_MARGIN = 20
RECORD_RETRY_MAX_DELAY = 5
# How much longer a worker asked to stop keeps trying to record a send.
STOP_GRACE = 5
# A drain that has sent this many rows enqueues another beside it, and waits up to
# DRAIN_LINGER seconds (looking every DRAIN_POLL) for the next row before it ends.
DRAIN_HELP = 10
DRAIN_LINGER = 0.5
DRAIN_POLL = 0.05

log = logging.getLogger("scheduler.mail")


def compose(row, settings):
    rendered = render(row["template"], with_manage_url(row["payload"], settings))
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


def people_shown(row):
    """The accounts whose name or address the row's email shows: its recipient, the people its
    text names (`names`: payload key -> user id) and those in its invitation."""
    payload = row["payload"]
    ids = {row["user_id"], *payload.get("names", {}).values()}
    if "ics" in payload:
        ids |= people_in(payload["ics"]["event"])
    return ids - {None}


def current_payload(row, people):
    """The payload as it is sent: the recipient greeted by their name now, in their language now,
    and the people its text names and its invitation shows as they are now (`people`: user id ->
    {"name", "email", "locale"}), so no calendar sends answers to an address its owner gave up.
    What happened (the event, its times and status) stays as written; so do guests (in the
    language they booked in), and people in rows written before they carried ids."""
    written = row["payload"]
    payload = {key: value for key, value in written.items() if key != "names"}
    payload |= {key: people[user_id]["name"] for key, user_id in written.get("names", {}).items()
                if user_id in people}
    if row["user_id"] in people:
        payload["language"] = people[row["user_id"]]["locale"]
        if "name" in payload:
            payload["name"] = people[row["user_id"]]["name"]
    if "ics" in payload:
        payload["ics"] = payload["ics"] | {"event": as_now(payload["ics"]["event"], people)}
    return payload


def with_manage_url(payload, settings):
    """A guest's email carries their manage link, made now on PUBLIC_BASE_URL: the outbox keeps
    only its salt (rows written before also kept a base URL, taken from the request's Host
    then, which is ignored)."""
    if "manage" not in payload:
        return payload
    rest = {key: value for key, value in payload.items() if key != "manage"}
    token = manage_token(settings, payload["manage"]["salt"])
    return rest | {"manage_url": manage_url(settings.public_base_url, token)}


def wait_for_send_slot(rt):
    """Honours EMAIL_RATE_LIMIT (per minute) across every worker process. Called before a row
    is claimed: a wait for a slot, which can last minutes when many workers share a low limit,
    must not run down the lease of a row in hand, or another worker retakes it and both send."""
    limit = rt.settings.email_rate_limit
    while limit:
        window = int(time.time() // 60)
        wait = rt.limiter.hit(f"ratelimit:email:{window}", limit, 120)
        if wait is None:
            return
        time.sleep(60 - time.time() % 60 + 0.01)


def deliver(email_id):
    """RQ job of one outbox row, as emails were queued before drains: sends it unless it was
    already sent or is being sent."""
    rt = worker_runtime()
    wait_for_send_slot(rt)
    row = claimed(rt, lambda cur, now: email_outbox.claim(cur, email_id, now=now, lease_seconds=LEASE_SECONDS))
    if row is None:
        log.info("email %s: already handled or not due, skipping", email_id)
        return
    send(rt, row)


def drain():
    """RQ job: sends due outbox rows, claiming one at a time, until none is left. Past
    DRAIN_HELP rows it enqueues a drain beside it (another worker shares a backlog); past
    jobs.DRAIN_SECONDS, or once the worker is asked to stop, it leaves the rest to a drain it
    enqueues. Each step retries a transient database failure on its own (a drain has committed
    claims by then, so it is not run again from its start)."""
    rt = worker_runtime()
    stop_claiming = time.monotonic() + jobs.DRAIN_SECONDS
    sent = 0
    while not rt.stopping.is_set() and time.monotonic() < stop_claiming:
        wait_for_send_slot(rt)
        row = next_due(rt, linger=sent >= DRAIN_HELP)
        if row is None:
            return
        send(rt, row)
        sent += 1
        if sent == DRAIN_HELP:
            jobs.drain_emails(rt.redis)
    jobs.drain_emails(rt.redis)


def next_due(rt, *, linger):
    """The next due row, claimed; None once there is none, after waiting up to DRAIN_LINGER
    seconds for one if `linger` (a drain that found a stream of rows waits for the next, so a
    busy service wakes no new drain). The flag that lets commits leave their emails to this
    drain (jobs.DRAIN_PENDING) is cleared before the last look, so none is left behind."""
    give_up = time.monotonic() + (DRAIN_LINGER if linger else 0)
    row = claimed(rt, take_next)
    while row is None and time.monotonic() < give_up and not rt.stopping.wait(DRAIN_POLL):
        row = claimed(rt, take_next)
    if row is None:
        jobs.last_look(rt.redis)
        row = claimed(rt, take_next)
    return row


def take_next(cur, now):
    return email_outbox.claim_next(cur, now=now, lease_seconds=LEASE_SECONDS)


@retrying
def claimed(rt, claim):
    """The row `claim(cur, now)` takes, with the people its email shows as they are now
    (`people`) and when its lease ends at the latest (`lease_ends`, on the monotonic clock), or
    None."""
    lease_ends = time.monotonic() + LEASE_SECONDS
    with rt.db.transaction() as cur:
        row = claim(cur, clock.now())
        if row is not None:
            row |= {"people": users.contacts(cur, shown_if_readable(row)), "lease_ends": lease_ends}
    return row


def shown_if_readable(row):
    """people_shown, or nobody for a payload this release cannot read: the row is still taken,
    and fails in `send` with the reason, instead of staying first in line for every drain."""
    try:
        return people_shown(row)
    except (AttributeError, KeyError, TypeError, ValueError):
        return set()


def send(rt, row):
    """Sends a claimed row as it reads now and records the outcome: sent, or failed (retried
    after its backoff until the attempts are used up)."""
    try:
        rt.mail_provider.send(compose(row | {"payload": current_payload(row, row["people"])}, rt.settings))
    except Exception as exc:  # any provider failure (or unreadable row) is retried, then recorded
        error = f"{type(exc).__name__}: {exc}"[:500]
        result = failed(rt, row["id"], error)
        log.warning("email %s: attempt %s failed (%s), now %s", row["id"], result["attempts"], error, result["status"])
        return
    record_sent(rt, row, retry_until=row["lease_ends"] - LEASE_MARGIN)


@retrying
def failed(rt, email_id, error):
    with rt.db.transaction() as cur:
        return email_outbox.record_failure(
            cur, email_id, now=clock.now(), error=error,
            max_attempts=rt.settings.email_retry_attempts,
            backoff_seconds=rt.settings.email_retry_backoff,
        )


def record_sent(rt, row, *, retry_until):
    """Marks the row sent. A send that is not recorded is sent again once its lease runs out,
    so a database outage here is waited out (with backoff) for as long as the lease allows,
    or for STOP_GRACE seconds once the worker is asked to stop."""
    delay, stop_noticed = 0.1, False
    while True:
        try:
            with rt.db.transaction() as cur:
                if email_outbox.mark_sent(cur, row["id"], row["recipient"]) and row["reminder_minutes"] is not None \
                        and row["user_id"] is not None:
                    announce.send(rt, cur, announce.reminder_sent(row))
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


@retrying
def sweep(rt):
    """Enqueues a drain for due rows that waited OUTBOX_REQUEUE_AFTER without being taken:
    never woken for (Redis was down), retries and reminders whose time has come, sends
    abandoned by a worker that died. Returns their ids."""
    with rt.db.transaction() as cur:
        due = email_outbox.take_due(cur, now=clock.now(), requeue_after=rt.settings.outbox_requeue_after,
                                    limit=leases.SWEEP_BATCH)
    if due:
        log.info("outbox sweep: %d due, enqueuing a drain", len(due))
        jobs.drain_emails(rt.redis)
    return due
