"""External calendars (docs/calendars.md): an iCalendar subscription or a CalDAV account whose
busy times are read into the service. Connecting one reads it before answering; the worker
refreshes it every CALENDAR_REFRESH_MINUTES. Anyone else's is a 404. A password is sealed with
SECRET_KEYS (scheduler/sealing.py) and never shown again; URLs are shown without credentials."""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from flask import Blueprint, g
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from .. import clock
from ..auth import limit_account, login_required, require_key_scope
from ..context import runtime, settings, single_statement, transaction
from ..errors import BadRequest, Conflict, NotFound
from ..external_calendars import CalendarError
from ..external_calendars.expand import Owner
from ..external_calendars.refresh import (ChoiceError, connect, next_refresh, read_choice, refresh, store,
                                          write_choice)
from ..external_calendars.transport import Credentials, calendar_url, without_credentials
from ..openapi import Error, Message, RateLimited, Shape, describe
from ..pagination import PageQuery, paginated
from ..repositories import calendars
from ..sealing import CALENDAR_PASSWORD
from ..validation import Body, Name, at_least_one, check_line, parse, parse_query

bp = Blueprint("calendars", __name__)

# Calendars per person: each is fetched every few minutes, and a person has only so many.
MAX_CALENDARS = 20
# What calendar_url accepts, less exotic hosts (IPv6 literals, non-ASCII names), for the description.
URL_PATTERN = (r"^(?:[hH][tT][tT][pP][sS]?|[wW][eE][bB][cC][aA][lL][sS]?)://(?:[^\s/@#]+@)?[A-Za-z0-9.-]+"
               r"(?::[0-9]{1,5})?(?:[/?][^#\s\u0000-\u001f]*)?$")
URL_LENGTH = (8, 2000)
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=URL_LENGTH[0], max_length=URL_LENGTH[1]),
                AfterValidator(calendar_url), Field(json_schema_extra={"pattern": URL_PATTERN}, description=(
                    "http(s):// or webcal:// (read as https://). A user name and password in it are taken as "
                    "credentials and removed from the URL. Unless EGRESS_ALLOW_PRIVATE, its host must resolve to "
                    "public addresses only."))]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
CalendarName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                         AfterValidator(check_line), Field(description="A calendar's href (URL or path) or display name.")]
ReadList = Annotated[list[CalendarName], Field(max_length=50)]


class CalendarIn(Body):
    kind: Literal["ics", "caldav"]
    url: Url
    name: Name | None = None
    username: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="With `password`; required for caldav unless the URL carries them.")
    password: Secret | None = Field(default=None, description="Sealed at rest; never shown again.")
    read: ReadList | None = Field(default=None, description="caldav: the calendars to read busy times from "
                                                            "(default: every calendar with events).")
    write_to: CalendarName | None = Field(default=None, description="caldav: the calendar bookings are written to.")


class CalendarPatch(Body):
    """A null `read` reads every calendar with events again; a null `write_to` writes to none."""

    model_config = ConfigDict(json_schema_extra=at_least_one("name", "read", "write_to", null_counts=True))
    name: Name = None
    read: ReadList | None = None
    write_to: CalendarName | None = None


class CalendarChoice(Shape):
    href: str = Field(description="The calendar collection's absolute URL.")
    name: str
    read: bool = Field(description="Its busy times are read.")
    write: bool = Field(description="Bookings are written to it.")


class Calendar(Shape):
    id: int
    kind: Literal["ics", "caldav"]
    name: str
    url: str = Field(description="As given, without credentials.")
    status: Literal["ok", "error"] = Field(description="How the latest fetch went.")
    last_synced_at: datetime | None = Field(description="The latest good fetch.")
    busy_count: int = Field(description="Busy times stored from it.")
    error: str | None = Field(description="Why the latest fetch failed; null when it didn't.")
    calendars: list[CalendarChoice] | None = Field(
        default=None, description="caldav only: the account's calendars with events, as last listed.")


class CalendarSaved(Shape):
    message: str
    calendar: Calendar


def shown(calendar):
    """The calendar as the API shows it: CalDAV's with the account's calendars and which are used."""
    public = {key: calendar[key] for key in ("id", "kind", "name", "url", "status", "last_synced_at", "busy_count",
                                             "error")}
    if calendar["kind"] != "caldav":
        return public
    read_from = calendar["read_from"]
    return public | {"calendars": [
        {"href": c["href"], "name": c["name"], "read": read_from is None or c["href"] in read_from,
         "write": c["href"] == calendar["write_to"]} for c in calendar["collections"] or []]}


def own(cur, calendar_id, *, lock=False):
    """My calendar; 404 otherwise, whether or not it exists."""
    calendar = calendars.find_own(cur, calendar_id, g.user["id"], lock=lock)
    if calendar is None:
        raise NotFound("Calendar not found")
    return calendar


def check_room(cur):
    if calendars.count_own(cur, g.user["id"]) >= MAX_CALENDARS:
        raise Conflict(f"At most {MAX_CALENDARS} calendars per person: delete one first")


def limit_fetches():
    """Each connection and refresh fetches from another server: CALENDAR_RATE_LIMIT an hour per person."""
    limit_account("calendar-fetch", settings().calendar_rate_limit, "calendar connections and refreshes")


def refused(exc):
    field = exc.field if isinstance(exc, ChoiceError) else "url"
    return BadRequest(f"Invalid input: {field}: {exc}", fields={field: str(exc)})


def credentials_of(data, in_url):
    """The fields' user name and password, else those the URL carried; caldav needs them."""
    credentials = Credentials(data.username, data.password or "") if data.username else in_url
    if data.kind == "caldav" and credentials is None:
        raise BadRequest("Invalid input: username: required for a caldav account",
                         fields={"username": "required for a caldav account (or in the URL)"})
    if data.kind == "ics" and (data.read is not None or data.write_to is not None):
        field = "read" if data.read is not None else "write_to"
        raise BadRequest(f"Invalid input: {field}: only for caldav", fields={field: "only for caldav"})
    return credentials


def check_key_reads_bookings():
    require_key_scope("bookings:read", "the calendar written to receives every booking")


@bp.post("")
@describe(body=CalendarIn, responses={201: CalendarSaved, 409: Error, 429: RateLimited})
@login_required("calendars:write")
def create_calendar():
    """Connect a calendar: an iCalendar subscription URL, or a CalDAV account.

    It is read before the answer: a URL that can't be reached, isn't iCalendar (or CalDAV), is
    refused (a private or reserved address), is too large or whose server refuses the
    credentials is a 400 saying why in `fields.url`; `read` or `write_to` naming no calendar of
    the account, a 400 in that field. CalDAV accounts are found from the server's address
    (/.well-known/caldav), a principal or a calendar home. At most 20 calendars per person (409);
    connections and refreshes count toward CALENDAR_RATE_LIMIT an hour (429). An API key
    choosing a `write_to` needs `bookings:read` too (that calendar receives every booking)."""
    limit_fetches()
    data = parse(CalendarIn)
    if data.write_to is not None:
        check_key_reads_bookings()
    url, in_url = without_credentials(data.url)
    credentials = credentials_of(data, in_url)
    with single_statement() as cur:
        check_room(cur)
    now = clock.now()
    try:
        connected = connect(settings(), Owner(g.user["timezone"], g.user["email"]), kind=data.kind, url=url,
                            credentials=credentials, read=data.read, write_to=data.write_to, now=now)
    except CalendarError as exc:
        raise refused(exc) from None
    source, fetched = connected.source, connected.fetched
    sealed = credentials and settings().secret_keys.seal_text(credentials.password, CALENDAR_PASSWORD)
    with transaction() as cur:
        check_room(cur)
        calendar = calendars.insert(
            cur, user_id=g.user["id"], kind=data.kind, name=data.name or fetched.name or urlsplit(url).hostname[:100], url=url,
            username=credentials and credentials.username, password_sealed=sealed, home_url=source.home_url,
            read_from=source.read_from, write_to=connected.write_to)
        calendar = store(cur, calendar["id"], g.user["id"], fetched, now=now,
                         next_refresh_at=next_refresh(settings(), now))
    return {"message": "Calendar connected", "calendar": shown(calendar)}, 201


@bp.get("")
@describe(query=PageQuery, responses={200: list[Calendar]})
@login_required("calendars:read")
def list_calendars():
    """My calendars, oldest first."""
    query = parse_query(PageQuery)
    with single_statement() as cur:
        return paginated(query, ("id",), lambda after, limit: [
            shown(c) for c in calendars.list_own(cur, g.user["id"], after=after, limit=limit)])


@bp.get("/<id:calendar_id>")
@describe(responses={200: Calendar})
@login_required("calendars:read")
def get_calendar(calendar_id):
    """One of my calendars: how its latest fetch went and how many busy times it gave."""
    with single_statement() as cur:
        return shown(own(cur, calendar_id))


@bp.patch("/<id:calendar_id>")
@describe(body=CalendarPatch, responses={200: CalendarSaved})
@login_required("calendars:write")
def update_calendar(calendar_id):
    """Rename it, or (CalDAV) choose the calendars read and the one written to.

    `read` and `write_to` name calendars of the account as last listed (its href or display
    name). A change of `read` makes the worker read the account afresh within moments; until
    then the busy times are those read before. An API key choosing a `write_to` needs
    `bookings:read` too."""
    data = parse(CalendarPatch)
    given = data.model_fields_set & {"name", "read", "write_to"}
    if not given:
        raise BadRequest("Provide at least one of name, read, write_to to update")
    if data.write_to is not None:
        check_key_reads_bookings()
    with transaction() as cur:
        calendar = own(cur, calendar_id, lock=True)
        chosen = {name for name in given & {"read", "write_to"} if getattr(data, name) is not None}
        if chosen and calendar["kind"] != "caldav":
            field = min(chosen)
            raise BadRequest(f"Invalid input: {field}: only for caldav", fields={field: "only for caldav"})
        collections = calendar["collections"] or []
        try:
            read_from = read_choice(collections, data.read) if "read" in given else calendar["read_from"]
            write_to = write_choice(collections, data.write_to) if "write_to" in given else calendar["write_to"]
        except ChoiceError as exc:
            raise refused(exc) from None
        calendar = calendars.update(cur, calendar_id, name=data.name, read_from=read_from, write_to=write_to,
                                    refetch_at=clock.now() if read_from != calendar["read_from"] else None)
    return {"message": "Calendar updated", "calendar": shown(calendar)}


@bp.delete("/<id:calendar_id>")
@describe(responses={200: Message})
@login_required("calendars:write")
def delete_calendar(calendar_id):
    """Disconnect a calendar: its busy times and stored password go with it at once."""
    with transaction() as cur:
        own(cur, calendar_id, lock=True)
        calendars.delete(cur, calendar_id)
    return {"message": "Calendar deleted"}


@bp.post("/<id:calendar_id>/refresh")
@describe(responses={200: CalendarSaved, 429: RateLimited})
@login_required("calendars:write")
def refresh_calendar(calendar_id):
    """Read a calendar now.

    The answer is the calendar after this fetch: `status` and `error` say how it went (a failed
    fetch keeps the busy times read before). Counts toward CALENDAR_RATE_LIMIT (429)."""
    limit_fetches()
    with single_statement() as cur:
        own(cur, calendar_id)
    calendar = refresh(runtime(), calendar_id)
    if calendar is None:
        raise NotFound("Calendar not found")
    message = "Calendar refreshed" if calendar["status"] == "ok" else f"Refresh failed: {calendar['error']}"
    return {"message": message, "calendar": shown(calendar)}
