"""Calendar write-back: the RQ job that brings one calendar's copy of one booking to the state
its row wants (repositories/calendar_writes.py), and the sweep that enqueues due rows. Runs on a
queue and threads of its own (CALENDAR_WRITE_CONCURRENCY per worker), so a slow or dead CalDAV
server holds up neither email nor webhooks.

A row holds only the latest state, so a calendar that was down gets one write per booking when
it is back. The job writes under the row's lease, and writes again when a change came while it
wrote: writes of one event go out one at a time, the latest last.

The event is the feed's (scheduler/calendar.py: same UID, SEQUENCE, organizer and attendees),
PUT to <write_to>/<uid>.ics, with If-None-Match: * while the calendar can't hold it yet. A
booking that is cancelled, or that the calendar's owner declined, is DELETEd rather than PUT
with STATUS:CANCELLED: the calendar is its owner's own, not an inbox of invitations (the
cancellation email carries those), and an event that is gone is busy for no one, whatever
reads the calendar, while a cancelled one would stay in it for good.
"""

import logging
from dataclasses import dataclass
from urllib.parse import quote, urljoin

from .. import clock, jobs
from ..calendar import to_ics
from ..db import retrying
from ..keyring import SealError
from ..outbound import send
from ..repositories import calendar_writes
from ..runtime import worker_runtime
from ..external_calendars.transport import USER_AGENT, stored_credentials
from . import leases
from .leases import LEASE_SECONDS, next_delay

# A removal that finds the event gone (its owner deleted it) is done.
GONE = (404, 410)
MAX_ERROR = 200

log = logging.getLogger("scheduler.calendars")


@dataclass(frozen=True)
class Result:
    """What an attempt left: the calendar matches the row (and holds the event, or not), or an
    error and how long the server asked to be left alone."""

    error: str | None = None
    on_server: bool = False
    retry_after: float | None = None


@retrying
def write(write_id):
    """RQ job: brings the calendar's copy of the booking to the row's latest version, unless the
    row is not due, another job has it, or it is done."""
    rt = worker_runtime()
    settings = rt.settings
    while True:
        with rt.db.transaction() as cur:
            claimed = calendar_writes.claim(cur, write_id, now=clock.now(), lease_seconds=LEASE_SECONDS)
        if claimed is None:
            return
        result = bring(settings, claimed)
        with rt.db.transaction() as cur:
            if result.error is None:
                calendar_writes.mark_written(cur, claimed, on_server=result.on_server)
            else:
                status = calendar_writes.record_failure(
                    cur, claimed, now=clock.now(), error=result.error[:MAX_ERROR],
                    delay_seconds=next_delay(settings.webhook_retry_schedule, claimed["attempts"], result.retry_after),
                    max_attempts=len(settings.webhook_retry_schedule) + 1)
                log.info("calendar write %s: attempt %s failed (%s), now %s", write_id, claimed["attempts"],
                         result.error, status)
        # Then the next claim: none once the calendar matches the latest version or waits to be
        # tried again; a version that came while this one was being written is written now.


def bring(settings, claimed):
    """One attempt to make the calendar match the row: PUT the event or DELETE it."""
    event = claimed["event"]
    # An @ may stand in a path: the resource is named as the UID reads.
    url = urljoin(claimed["write_to"].rstrip("/") + "/", quote(event["uid"], safe="@") + ".ics")
    try:
        headers = {"User-Agent": USER_AGENT, **authorization(settings, claimed)}
    except SealError as exc:
        return Result(f"the calendar's password can't be opened: {exc}")
    if not claimed["held"]:
        if not claimed["on_server"]:
            return Result()  # never written there: nothing to remove
        outcome = request(settings, "DELETE", url, None, headers)
        return Result() if outcome.ok or outcome.status in GONE else failed(outcome)
    body = to_ics([event], zone_name=claimed["timezone"], stored=True)
    headers |= {"Content-Type": "text/calendar; charset=utf-8"}
    creating = {"If-None-Match": "*"} if not claimed["on_server"] else {}
    outcome = request(settings, "PUT", url, body, headers | creating)
    if creating and outcome.status == 412:
        # Something is at the event's address already, and its UID makes it this booking's (put
        # there for a calendar connected before, say): replace it.
        outcome = request(settings, "PUT", url, body, headers)
    return Result(on_server=True) if outcome.ok else failed(outcome)


def authorization(settings, claimed):
    """HTTP Basic with the calendar's username and password, if it has them."""
    credentials = stored_credentials(settings.secret_keys, claimed["username"], claimed["password_sealed"])
    return {"Authorization": credentials.header()} if credentials else {}


def request(settings, method, url, body, headers):
    """Through the egress guard, with the webhooks' timeouts (outbound.py)."""
    return send(method, url, body, headers, connect_timeout=settings.webhook_connect_timeout,
                total_timeout=settings.webhook_timeout, allow_private=settings.egress_allow_private)


def failed(outcome):
    """The attempt's error as the row keeps it: the network's, or the server's status."""
    return Result(outcome.error or f"HTTP {outcome.status}", retry_after=outcome.retry_after)


@retrying
def sweep(rt):
    """Enqueues due calendar writes that have no live job (delivery/leases.py)."""
    return leases.sweep(rt, take_due=calendar_writes.take_due, job_id=jobs.calendar_write_job_id,
                        enqueue=jobs.sweep_calendar_writes, what="calendar write")
