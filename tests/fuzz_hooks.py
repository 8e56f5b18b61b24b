"""Schemathesis hooks for tests/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

The description states these rules in words because JSON Schema can't: it compares no two
values (`to` after `from`, `end` after `start`, working hours in order), knows no clock (a
booking starts in the future, an override's date is not past) and no stored data (attendees
and chosen members share an organisation with me, a team event type's hosts are members of its
organisation, a schedule an event type uses is mine, my default schedule is not deleted, a
cursor, sync token or ETag is one the server issued, an Idempotency-Key is fresh for each
request, the booker doesn't answer their own booking's invitation), and counts characters, not bytes (passwords, analytics metadata); that a calendar's
URL serves a calendar is the world's business too. Which
characters text fields refuse (control and text-direction characters) is stated in words
too: as a pattern over all of Unicode it made schemathesis take minutes per operation. Only the
positive cases (those the API must accept) are brought within these rules, so that a refusal
of one is a real mismatch; negative and boundary cases keep breaking them and must still be
refused. A series' rule (at most 52 occurrences within a year, none at a local time the clocks
skip) is arithmetic over its dates, and how long a guest's series may be is the event type's:
stated in words too. So is which of approval, seats and series an event type may combine."""

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import schemathesis
from schemathesis.generation import GenerationMode

from scheduler.api.calendars import URL_LENGTH, URL_PATTERN
from scheduler.validation import allowed_in_text

# Values only the server hands out: a made-up one is refused (400, 410, 412), as it must be.
ISSUED_QUERY = ("cursor", "token")
ISSUED_HEADERS = ("If-Match",)
# Who shares an organisation with whom is data, not schema.
PEOPLE = ("attendees",)
# A series: whether its rule fits in a year and 52 occurrences is arithmetic over the dates;
# positive cases book two occurrences (the longest rule, monthly every 12 months, spans a
# year). A guest's series is up to the event type's `max_occurrences`, which is data: 1 here.
GUEST_BOOKINGS = re.compile(r"^POST /api/v1/public/.*/bookings$")
# Which starts a link offers is data too (its type's grid, hours, notice and bookings, which
# other cases change): a positive guest booking takes the first its slot list offers, and one
# for a link that offers none goes to a link that does not exist (404).
BASE_URL = os.environ.get("FUZZ_BASE_URL")
# Only one occurrence is moved at a time (scope=this), stated in words.
UPDATE_BOOKING = "PATCH /api/v1/bookings/{booking_id}"
PEOPLE_QUERY = ("members",)
# An event type's approval, seats and series exclude one another (requires_confirmation takes no
# seats, and either takes single bookings only), a rule across fields and, in a change, across
# what is stored: positive cases say all three consistently.
SINGLE_BOOKINGS = ("requires_confirmation", "seats", "max_occurrences")
# Who missed a booking is one of its people: the fuzzer itself (a seat is a seated booking's).
NO_SHOW = "POST /api/v1/bookings/{booking_id}/no-show"
# Which of my rows an id names is data too: such a field becomes null (my default schedule).
MY_ROWS = ("schedule_id",)
# An organisation's event type is hosted by its members who accepted it: the fuzzer itself, in
# tests/test_fuzz.py's organisation; weights are keyed by hosts.
TEAM_HOST = os.environ.get("FUZZ_TEAM_HOST")
PASSWORDS = ("password", "currentPassword", "newPassword")
PASSWORD_BYTES = 72
METADATA_BYTES = 4096
# Answering an invitation: a booking I was invited to (tests/test_fuzz.py's), not one of the
# fuzzer's own, whose ids are anyone's guess.
ANSWER = "PATCH /api/v1/bookings/{booking_id}/attendance"
INVITED = os.environ.get("FUZZ_INVITED_BOOKING")
# Deleting a schedule: tests/test_fuzz.py's other one, not my default one (which is my own hours: 400).
DELETE_SCHEDULE = "DELETE /api/v1/schedules/{schedule_id}"
DEFAULT_SCHEDULE, OTHER_SCHEDULE = os.environ.get("FUZZ_DEFAULT_SCHEDULE"), os.environ.get("FUZZ_SCHEDULE")
OVERRIDE = "PUT /api/v1/schedules/{schedule_id}/overrides/{day}"
# Connecting a calendar fetches its URL at once. So that no case leaves the machine, a URL the
# description allows becomes the test's own feed in positive cases (a made-up host would be
# looked up and reached), and every other an address the API refuses before fetching. The
# world's calendar is an iCalendar feed, and a CalDAV account is data: positive cases connect
# and change iCalendar feeds, for which `read` and `write_to` can only be null.
CONNECT = "POST /api/v1/calendars"
CHANGE_CALENDAR = "PATCH /api/v1/calendars/{calendar_id}"
CALENDAR_URL = os.environ.get("FUZZ_CALENDAR_URL")
REFUSED_URL = "ftp://127.0.0.1/"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BYDAY = ("mo", "tu", "we", "th", "fr", "sa", "su")
# Text fields and whether they may span lines (scheduler/validation.py: Title, Location, Paragraphs, Line),
# and the operations where a name means one line although it spans lines elsewhere.
TEXT_FIELDS = {"title": False, "location": False, "description": True, "notes": True, "reason": True, "name": False}
ONE_LINE_IN = {"POST /api/v1/users/me/time-off": ("reason",)}
# Those that may not be left blank, and what to put there.
FILLED_TEXT = {"title": "Title", "name": "Name"}


@schemathesis.hook
def map_case(context, case):
    positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if case.operation.label == CONNECT and isinstance(case.body, MutableMapping) and isinstance(case.body.get("url"), str):
        url = case.body["url"]
        allowed = URL_LENGTH[0] <= len(url) <= URL_LENGTH[1] and re.fullmatch(URL_PATTERN, url)
        case.body["url"] = CALENDAR_URL if allowed and positive else REFUSED_URL
    if not positive:
        return case
    if case.operation.label in (CONNECT, CHANGE_CALENDAR) and isinstance(case.body, MutableMapping):
        case.body |= {"kind": "ics"} if case.operation.label == CONNECT else {}
        case.body |= {name: None for name in ("read", "write_to") if name in case.body}
    if isinstance(case.query, MutableMapping):
        for name in ISSUED_QUERY + PEOPLE_QUERY:
            case.query.pop(name, None)
        ordered_window(case.query)
        readable_text(case.query)
    if isinstance(case.path_parameters, MutableMapping) and case.operation.label == ANSWER:
        case.path_parameters["booking_id"] = int(INVITED)
    if isinstance(case.path_parameters, MutableMapping) and case.operation.label == OVERRIDE:
        case.path_parameters["day"] = coming_date(case.path_parameters.get("day"))
    if (isinstance(case.path_parameters, MutableMapping) and case.operation.label == DELETE_SCHEDULE
            and str(case.path_parameters.get("schedule_id")) == DEFAULT_SCHEDULE):
        case.path_parameters["schedule_id"] = int(OTHER_SCHEDULE)
    if isinstance(case.body, MutableMapping):
        if len(json.dumps(case.body.get("metadata"), separators=(",", ":"), ensure_ascii=False).encode()) \
                > METADATA_BYTES:
            case.body["metadata"] = {}
        for name in PEOPLE:
            case.body.pop(name, None)
        for name in MY_ROWS:
            if name in case.body:
                case.body[name] = None
        if "hosts" in case.body:
            case.body["hosts"] = [int(TEAM_HOST)]
        if isinstance(case.body.get("weights"), dict):
            case.body["weights"] = {TEAM_HOST: weight for weight in list(case.body["weights"].values())[:1]}
        future_times(case.body)
        future_expiry(case.body)
        if isinstance(case.body.get("embed_origins"), list):
            # The pattern admits what the origin rule refuses (a port out of range, duplicates).
            case.body["embed_origins"] = ["https://example.com"][:len(case.body["embed_origins"])]
        single_bookings(case.body)
        if case.operation.label == NO_SHOW:
            case.body.pop("seat_id", None)
            case.body["who"] = int(TEAM_HOST)
        if GUEST_BOOKINGS.match(case.operation.label):
            case.body.pop("recurrence", None)
            offered_start(case)
        elif isinstance(case.body.get("recurrence"), dict):
            case.body["recurrence"] = {k: v for k, v in case.body["recurrence"].items() if k != "until"} | {"count": 2}
            with_start_weekday(case.body)
        if case.operation.label == UPDATE_BOOKING and isinstance(case.query, MutableMapping) \
                and ("start" in case.body or "end" in case.body):
            case.query["scope"] = "this"
        readable_text(case.body, one_line=ONE_LINE_IN.get(case.operation.label, ()))
        for name in PASSWORDS:
            if isinstance(case.body.get(name), str):
                case.body[name] = case.body[name].encode()[:PASSWORD_BYTES].decode(errors="ignore")
        if isinstance(case.body.get("working_hours"), dict):
            for day in DAYS:
                if isinstance(case.body["working_hours"].get(day), list):
                    case.body["working_hours"][day] = in_order(case.body["working_hours"][day])
        if isinstance(case.body.get("hours"), list):
            case.body["hours"] = in_order(case.body["hours"])
    if isinstance(case.headers, MutableMapping):
        for name in ISSUED_HEADERS:
            case.headers.pop(name, None)
        if "Idempotency-Key" in case.headers:
            # The same for the same request (a replay is a 2xx), another for any other.
            request = json.dumps([case.method, case.formatted_path, case.body], sort_keys=True, default=str)
            case.headers["Idempotency-Key"] = hashlib.sha256(request.encode()).hexdigest()
    return case


def offered_start(case):
    """A guest booking's start: the first its link offers now (see BASE_URL)."""
    slots = f"{BASE_URL}{case.formatted_path.removesuffix('/bookings')}/slots"
    try:
        with urllib.request.urlopen(slots, timeout=10) as answer:
            offered = json.load(answer)["slots"]
    except (urllib.error.URLError, KeyError, ValueError):
        offered = []
    if offered:
        case.body["start"] = offered[0]["start"]
    else:
        case.path_parameters["slug"] = "no-such-link"


def single_bookings(body):
    """An event type's body that sets any of SINGLE_BOOKINGS, made consistent in all three."""
    if not any(name in body for name in SINGLE_BOOKINGS):
        return
    if body.get("requires_confirmation") is True:
        body |= {"seats": None, "max_occurrences": 1}
    elif body.get("seats") is not None:
        body |= {"requires_confirmation": False, "max_occurrences": 1}
    elif isinstance(body.get("max_occurrences"), int) and body["max_occurrences"] > 1:
        body |= {"requires_confirmation": False, "seats": None}


def moment(text):
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def now_like(value):
    """Now, naive or aware as `value` is (a naive time is read in some zone: a day's margin)."""
    if value.tzinfo is None:
        return datetime.now() + timedelta(days=1)
    return datetime.now(timezone.utc) + timedelta(days=1)


def ordered_window(query):
    """`to` a day after `from` (a window is at most 62 days); alone, a day after now (the default `from`)."""
    start, end = moment(query.get("from")), moment(query.get("to"))
    if start is not None and end is not None:
        query["to"] = (start + timedelta(days=1)).isoformat()
    elif end is not None:
        query["to"] = now_like(end).isoformat()


def future_times(body):
    """A booking's start in the future and its end an hour later (both sent, since one alone is
    compared with the stored other)."""
    start, end = moment(body.get("start")), moment(body.get("end"))
    if start is None and end is None:
        return
    start = start or end
    if start < now_like(start) - timedelta(days=1):
        start = now_like(start) + timedelta(days=30)
    body["start"] = start.isoformat()
    body["end"] = (start + timedelta(hours=1)).isoformat()


def future_expiry(body):
    """An API key's expires_at in the future (a year ahead when it was not)."""
    expires = moment(body.get("expires_at"))
    if expires is not None and expires < now_like(expires):
        body["expires_at"] = (now_like(expires) + timedelta(days=365)).isoformat()


def with_start_weekday(body):
    """A series' byday includes the weekday of its start (its first occurrence) where the rule
    is expanded: the body's zone, else the fuzzer's own (UTC)."""
    byday, start = body["recurrence"].get("byday"), moment(body.get("start"))
    if isinstance(byday, list) and start is not None:
        local = start.astimezone(ZoneInfo(body.get("timezone") or "UTC")) if start.tzinfo else start
        day = BYDAY[local.weekday()]
        body["recurrence"]["byday"] = byday if day in byday else [*byday, day]


def in_order(intervals):
    """A day's intervals that start before they end and don't overlap, in order."""
    kept = []
    for interval in sorted((i for i in intervals if isinstance(i, dict)), key=lambda i: str(i.get("start"))):
        start, end = interval.get("start"), interval.get("end")
        if start == "24:00" or (end != "24:00" and end <= start):
            continue
        if kept and (kept[-1]["end"] == "24:00" or start < kept[-1]["end"]):
            continue
        kept.append(interval)
    return kept


def coming_date(text):
    """A date from today to a year ahead (in any zone: from yesterday on), the same for the same text."""
    try:
        seed = date.fromisoformat(text).toordinal()
    except (TypeError, ValueError):
        seed = 0
    return (datetime.now(timezone.utc).date() + timedelta(days=seed % 366)).isoformat()


def readable_text(body, one_line=()):
    """Text fields without the characters they refuse, and titles and names with something left."""
    for name, lines in TEXT_FIELDS.items():
        if isinstance(body.get(name), str):
            lines = lines and name not in one_line
            body[name] = "".join(ch for ch in body[name] if allowed_in_text(ch, lines=lines))
            if name in FILLED_TEXT and not body[name].strip():
                body[name] = FILLED_TEXT[name]
