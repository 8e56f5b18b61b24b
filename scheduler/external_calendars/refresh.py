"""A calendar read end to end: connecting a new one (CalDAV discovery, the calendars chosen,
the first fetch), refreshing a stored one (conditional GET, sync tokens), storing what was read
(a calendar's busy times replaced in one transaction, never half), and what a failure does
(status `error`, the last good busy times kept, the owner told at the third in a row).

A fetch runs outside any transaction (it may take FETCH_SECONDS); its result is written in one
that first locks the calendar's row, so a calendar deleted meanwhile is left alone. Two refreshes
of one calendar at once (the worker's and the owner's) each write a consistent state with the
sync tokens it read, so the later writer's state stands and its tokens bring the next sync up
to date."""

import functools
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from .. import announcements as announce, clock
from ..db import retrying
from ..keyring import SealError
from ..repositories import calendars
from . import CalendarError, caldav
from .expand import MAX_INSTANCES, Expansion, Owner, horizon, parse
from .transport import Budget, Credentials, check_status, request, stored_credentials

# Conditional GETs and sync tokens answer "nothing changed" for as long as a calendar stays the
# same, but the horizon moves on: once the last whole expansion is this old, read it all again.
REEXPAND_AFTER = timedelta(days=1)
# Failures in a row after which the owner is told (once, until a success resets the count).
FAILURES_TOLD = 3
# How much each refresh's interval varies, so calendars connected together spread out.
JITTER = 0.1
MAX_NAME = 100

log = logging.getLogger("scheduler.calendars")


class ChoiceError(CalendarError):
    """A calendar named in `read` or `write_to` is not in the account (or names several)."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def reading(fetch):
    """A fetch whose unexpected failure (a parser choking on what some server sent) is a
    CalendarError like any other: a 400 when connecting, an error status when refreshing."""
    @functools.wraps(fetch)
    def run(*args, **kwargs):
        try:
            return fetch(*args, **kwargs)
        except CalendarError:
            raise
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("reading a calendar failed")
            raise CalendarError("the calendar could not be read") from None
    return run


@dataclass(frozen=True)
class Source:
    """Where a calendar is read from and what was last read."""

    kind: str
    url: str
    credentials: Credentials | None
    home_url: str | None = None
    read_from: list | None = None  # CalDAV collection URLs; None is every one with events
    validators: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Fetched:
    """What a fetch read: busy times per CalDAV object href (None for a subscription), all of
    the calendar's (`whole`) or the objects that changed; None if nothing changed."""

    busy: dict | None
    whole: bool
    validators: dict
    collections: list | None = None  # CalDAV: the account's calendars with events, [{href, name}]
    name: str | None = None  # an iCalendar file's own name for itself


@dataclass(frozen=True)
class Connected:
    source: Source
    write_to: str | None
    fetched: Fetched


def next_refresh(settings, now):
    seconds = settings.calendar_refresh_minutes * 60
    return now + timedelta(seconds=seconds * random.uniform(1 - JITTER, 1 + JITTER))


def reexpand_due(validators, now):
    expanded_at = validators.get("expanded_at")
    return expanded_at is None or now - datetime.fromisoformat(expanded_at) >= REEXPAND_AFTER


def fetch_ics(settings, source, owner, now, budget):
    """A subscription: a conditional GET while the last expansion is recent (304: nothing changed)."""
    validators = {} if reexpand_due(source.validators, now) else source.validators
    headers = {"Accept": "text/calendar, */*;q=0.1"}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    response = request(budget, "GET", source.url, credentials=source.credentials, headers=headers)
    if response.status == 304 and validators:
        return Fetched(None, True, validators)
    check_status(response)
    calendar = parse(response.body)
    busy = Expansion(owner, settings.mail_domain, *horizon(now)).busy(calendar)
    kept = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    return Fetched({None: busy}, True, {key: value for key, value in kept.items() if value} |
                   {"expanded_at": now.isoformat()}, name=shown_name(calendar.get("X-WR-CALNAME") or calendar.get("NAME")))


def fetch_caldav(settings, source, owner, now, budget, listed=None):
    """A CalDAV account's calendars that are read: only what changed since the sync tokens, when
    every one has a token and the last whole read is recent; otherwise everything in the horizon
    (a calendar-query REPORT), with the tokens read just before it."""
    listed = listed if listed is not None else caldav.collections(budget, source.credentials, source.home_url)
    reading = [c for c in listed if c.events and (source.read_from is None or c.href in source.read_from)]
    expansion = Expansion(owner, settings.mail_domain, *horizon(now))
    shown = listing(listed)
    tokens = source.validators.get("tokens", {})
    if not reexpand_due(source.validators, now) and tokens and set(tokens) == {c.href for c in reading}:
        synced = sync(budget, source.credentials, reading, tokens, expansion)
        if synced is not None:
            busy, tokens = synced
            return Fetched(busy, False, source.validators | {"tokens": tokens}, shown)
    busy = {}
    for collection in reading:
        for href, data in caldav.in_range(budget, source.credentials, collection, expansion.start, expansion.end):
            busy[href] = object_busy(expansion, data)
    return Fetched(busy, True, {"tokens": {c.href: c.sync_token for c in reading if c.sync_token},
                                "expanded_at": now.isoformat()}, shown)


def listing(listed):
    """The account's calendars as stored and shown: those with events, by href and name."""
    return [{"href": c.href, "name": c.name} for c in listed if c.events]


def sync(budget, credentials, reading, tokens, expansion):
    """(busy times of the objects that changed, an empty list for those removed; the new
    tokens), or None if the server refused a token. A collection whose token is unchanged in
    the listing is not asked."""
    busy, current = {}, {}
    for collection in reading:
        if collection.sync_token == tokens[collection.href]:
            current[collection.href] = tokens[collection.href]
            continue
        delta = caldav.changes(budget, credentials, collection, tokens[collection.href])
        if delta is None:
            return None
        busy |= {href: [] for href in delta.removed + delta.changed}
        for href, data in caldav.fetch(budget, credentials, collection, delta.changed):
            busy[href] = object_busy(expansion, data)
        current[collection.href] = delta.token
    return busy, current


def object_busy(expansion, data):
    """One CalDAV object's busy times; one that is not iCalendar is left out, not the account."""
    try:
        calendar = parse(data)
    except CalendarError as exc:
        log.info("calendar object skipped: %s", exc)
        return []
    return expansion.busy(calendar)


def shown_name(value):
    """A name a calendar gives itself, as one printable line of at most MAX_NAME characters."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value or "")).split())
    return text[:MAX_NAME].strip() or None


def choose(collections, wanted, field):
    """The href of the calendar `wanted` names: its URL, its path, or its display name (exactly,
    else ignoring case)."""
    path = path_of(wanted)
    for collection in collections:
        if wanted in (collection["href"], collection["href"].rstrip("/")) or \
                (path and path_of(collection["href"]) == path and "://" not in wanted):
            return collection["href"]
    for same in (lambda name: name == wanted, lambda name: name.casefold() == wanted.casefold()):
        named = [c["href"] for c in collections if same(c["name"])]
        if len(named) == 1:
            return named[0]
        if named:
            raise ChoiceError(field, f"{wanted!r} names {len(named)} calendars: give its href")
    available = ", ".join(repr(c["name"]) for c in collections) or "none"
    raise ChoiceError(field, f"no calendar {wanted!r} in this account (its calendars with events: {available})")


def path_of(href):
    try:
        return urlsplit(href).path.rstrip("/")
    except ValueError:  # not a URL at all ("http://["): a display name, then
        return ""


def read_choice(collections, read):
    """The hrefs of the calendars `read` names; None (every calendar with events) stays None."""
    return None if read is None else list(dict.fromkeys(choose(collections, name, "read") for name in read))


def write_choice(collections, write_to):
    return None if write_to is None else choose(collections, write_to, "write_to")


@reading
def connect(settings, owner, *, kind, url, credentials, read, write_to, now):
    """A new calendar read for the first time (CalDAV: discovered first); CalendarError (a
    ChoiceError for `read` and `write_to`) says why it can't be."""
    budget = Budget(settings.egress_allow_private)
    if kind == "ics":
        source = Source(kind, url, credentials)
        return Connected(source, None, fetch_ics(settings, source, owner, now, budget))
    home = caldav.discover(budget, credentials, url)
    listed = caldav.collections(budget, credentials, home)
    shown = listing(listed)
    source = Source(kind, url, credentials, home, read_choice(shown, read))
    return Connected(source, write_choice(shown, write_to), fetch_caldav(settings, source, owner, now, budget, listed))


def store(cur, calendar_id, user_id, fetched, *, now, next_refresh_at):
    """Writes a good fetch; CalendarError (and nothing written) past MAX_INSTANCES busy times,
    which only a sync that adds to those stored can reach."""
    count = None
    if fetched.busy is not None:
        count = calendars.replace_busy(cur, calendar_id, user_id, fetched.busy, whole=fetched.whole)
        if count > MAX_INSTANCES:
            raise CalendarError(f"too many events: more than {MAX_INSTANCES:,} in the coming year")
    return calendars.record_success(cur, calendar_id, now=now, busy_count=count, validators=fetched.validators,
                                    collections=fetched.collections, next_refresh_at=next_refresh_at)


def refresh(rt, calendar_id):
    """Reads the calendar now and records how it went; returns it as stored then (None if it
    is gone)."""
    with rt.db.single_statement() as cur:
        row = calendars.source(cur, calendar_id)
    if row is None:
        return None
    now = clock.now()
    try:
        outcome = fetch_stored(rt.settings, row, now)
    except CalendarError as exc:
        outcome = exc
    return record(rt, calendar_id, outcome, now)


@reading
def fetch_stored(settings, row, now):
    try:
        credentials = stored_credentials(settings.secret_keys, row["username"], row["password_sealed"])
    except SealError:
        raise CalendarError("the stored password can no longer be opened: connect the calendar again") from None
    source = Source(row["kind"], row["url"], credentials, row["home_url"], row["read_from"], row["validators"])
    owner = Owner(row["owner_timezone"], row["owner_email"])
    budget = Budget(settings.egress_allow_private)
    if source.kind == "ics":
        return fetch_ics(settings, source, owner, now, budget)
    return fetch_caldav(settings, source, owner, now, budget)


@retrying
def record(rt, calendar_id, outcome, now):
    """Stores a fetch's result, or its failure (`outcome` a CalendarError), in one transaction."""
    next_refresh_at = next_refresh(rt.settings, now)
    with rt.db.transaction() as cur:
        row = calendars.source(cur, calendar_id, lock=True)
        if row is None:
            return None
        if not isinstance(outcome, CalendarError):
            try:
                with rt.db.transaction():  # a savepoint: over the limit, the busy times stay as they were
                    return store(cur, calendar_id, row["user_id"], outcome, now=now, next_refresh_at=next_refresh_at)
            except CalendarError as exc:
                outcome = exc
        failed = calendars.record_failure(cur, calendar_id, error=str(outcome), next_refresh_at=next_refresh_at)
        if failed["failures"] == FAILURES_TOLD:
            announce.send(rt, cur, announce.calendar_failing(failed, row))
        log.info("calendar %s: refresh failed (%s in a row): %s", calendar_id, failed["failures"], outcome)
        return {key: value for key, value in failed.items() if key != "failures"}


def refresh_due(rt):
    """The worker's periodic task: refreshes due calendars one after another, each claimed with
    its next time set, until none is due or the worker is asked to stop."""
    while not rt.stopping.is_set():
        now = clock.now()
        with rt.db.single_statement() as cur:
            calendar_id = calendars.claim_due(cur, now=now, next_refresh_at=next_refresh(rt.settings, now))
        if calendar_id is None:
            return
        refresh(rt, calendar_id)
