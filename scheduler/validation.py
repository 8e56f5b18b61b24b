"""The one validation mechanism: pydantic models over the JSON body or the query string."""

import re
import unicodedata
from datetime import datetime
from typing import Annotated

import orjson
from flask import request
from gunicorn.http.errors import ParseException
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError, WithJsonSchema
from werkzeug.exceptions import RequestEntityTooLarge

from .email_addresses import hidden_characters, normalise
from .errors import BadRequest, UnsupportedMediaType
from .timezones import NonexistentLocalTime, check_zone, to_utc

# Far enough for any calendar, and clear of datetime's limits when zones and windows shift times.
MIN_YEAR, MAX_YEAR = 1900, 2999
YEARS = f"must be between the years {MIN_YEAR} and {MAX_YEAR}"
MAX_DEPTH = 32


class Body(BaseModel):
    """A JSON request body: types are strict (no "42" for 42), unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")



class Query(BaseModel):
    """Query-string parameters: text is converted to the declared types."""

    model_config = ConfigDict(extra="ignore")


def parse_time(value):
    """ISO 8601 text -> datetime: aware when the text has an offset, else naive (wall-clock
    time, placed in a zone later by `in_zone`)."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2030-01-01T09:00:00Z")
    text = value.strip()
    if len(text) < 16 or "T" not in text.upper():
        raise ValueError("must be an ISO 8601 date-time, e.g. 2030-01-01T09:00:00Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2030-01-01T09:00:00Z") from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(YEARS)
    return moment


def check_email(value):
    """The address in the one form we store (see scheduler/email_addresses.py); ValueError if refused."""
    return normalise(value)


HANDLE_PATTERN = re.compile(r"^[a-z0-9-]+$")
# Names a booking link must not take: the service's own paths and words people would trust.
RESERVED_USERNAMES = frozenset("""
    about account admin administrator api app auth book bookings calendar dashboard docs guest guest-bookings
    health help login logout manage me new null organizations pages public register root scheduler settings
    static support system undefined user users webhooks www
""".split())


def check_handle(value):
    if not HANDLE_PATTERN.match(value):
        raise ValueError("may contain only a-z, 0-9 and -")
    return value


def check_visible(value):
    """People's and teams' names appear in member lists, attendee lists and e-mail subjects, so
    they may not hide characters or turn text around, as addresses may not."""
    if hidden_characters(value):
        raise ValueError("must not contain invisible, control or text-direction characters")
    return value


# Bidi embeddings, overrides and isolates: they reorder what follows them, so a title or
# subject can show other text than it holds ("\u202etxt.exe" reads "exe.txt").
TEXT_DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\n\r\t\u2028\u2029")


def check_text(value, *, lines):
    """Text people read (titles, locations, descriptions, notes) may not hold control characters,
    which start new header lines in e-mail subjects and new properties in calendar files, nor
    turn text around. One-line text refuses line breaks and tabs too; `lines` keeps them."""
    for ch in value:
        if ch in TEXT_DIRECTION_CONTROLS:
            raise ValueError("must not contain text-direction overrides or isolates (U+202A-U+202E, U+2066-U+2069)")
        if ch in LINE_BREAKS and not lines or unicodedata.category(ch) == "Cc" and ch not in LINE_BREAKS:
            raise ValueError("must be one line, without control characters" if not lines
                             else "must not contain control characters other than line breaks and tabs")
    return value


def check_line(value):
    return check_text(value, lines=False)


def check_lines(value):
    return check_text(value, lines=True)


def check_username(value):
    if value in RESERVED_USERNAMES:
        raise ValueError("is reserved, choose another")
    return check_handle(value)


def check_password(value):
    if len(value.encode()) > 72:
        raise ValueError("must be at most 72 bytes")
    return value


DateTime = Annotated[datetime, BeforeValidator(parse_time), WithJsonSchema({
    "type": "string", "format": "date-time",
    "description": "ISO 8601. Without an offset: wall-clock time in the request's `timezone`, else the user's own."})]
Zone = Annotated[str, AfterValidator(check_zone), WithJsonSchema({
    "type": "string", "description": "An IANA time zone name, such as Europe/Berlin or UTC.", "examples": ["Europe/Berlin"]})]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(check_email),
                  WithJsonSchema({"type": "string", "format": "email", "maxLength": 254})]
Password = Annotated[str, StringConstraints(min_length=6), AfterValidator(check_password)]
# A password to check against a stored one: any length that could have been set.
LoginPassword = Annotated[str, StringConstraints(min_length=1), AfterValidator(check_password)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 AfterValidator(check_visible)]
# Text shown beside names in lists, e-mail subjects and calendars: one line each.
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), AfterValidator(check_line)]
Location = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(check_line)]


def Paragraphs(max_length):
    """Free text that may run over several lines (descriptions, notes, reasons), up to max_length."""
    return Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length), AfterValidator(check_lines)]


# Public handles in booking links, compared and stored in lower case.
Username = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=40),
                     AfterValidator(check_username)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=60),
                 AfterValidator(check_handle)]


class RegisterIn(Body):
    """A new account, through the API or `flask create-admin`."""

    name: Name
    email: Email
    password: Password


def json_body():
    """The request's JSON object; {} when there is no body. 415 for another type, 400 if malformed."""
    raw = request_body()
    if not raw.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("Content-Type must be application/json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed JSON body") from None
    if not isinstance(data, dict):
        raise BadRequest("JSON body must be an object")
    check_contents(data)
    return data


def request_body():
    """The raw body: 413 past MAX_CONTENT_LENGTH, 400 if its chunked framing is malformed."""
    try:
        raw = request.get_data(cache=True)
        # werkzeug stops a chunked body at the limit without an error; a byte after it means
        # the body went on.
        if request.content_length is None and len(raw) >= request.max_content_length \
                and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
    except ParseException:
        raise BadRequest("Malformed request body") from None
    return raw


def check_contents(data):
    """400 for what PostgreSQL or our encoders refuse: NUL characters (not storable in text or
    jsonb) and nesting deeper than MAX_DEPTH. Walks iteratively: no recursion limit to hit."""
    pending = [(data, 1)]
    while pending:
        container, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"JSON body may nest at most {MAX_DEPTH} levels deep")
        for item in (*container, *container.values()) if isinstance(container, dict) else container:
            if isinstance(item, str):
                if "\x00" in item:
                    raise BadRequest("Text may not contain NUL (\\u0000) characters")
            elif isinstance(item, (dict, list)):
                pending.append((item, depth + 1))


def parse(model):
    return validate(model, json_body())


def parse_query(model):
    return validate(model, request.args.to_dict())


def validate(model, data):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {}
        for err in exc.errors(include_url=False):
            where = ".".join(str(part) for part in err["loc"]) or "body"
            fields.setdefault(where, err["msg"].removeprefix("Value error, "))
        summary = "; ".join(f"{name}: {msg}" for name, msg in fields.items())
        raise BadRequest(f"Invalid input: {summary}", fields=fields) from None


def in_zone(zone_name, **times):
    """The given times in UTC, naive ones read as wall-clock time in the zone; 400 if one doesn't exist."""
    resolved = {}
    for field, moment in times.items():
        try:
            resolved[field] = None if moment is None else to_utc(moment, zone_name)
        except NonexistentLocalTime as exc:
            raise BadRequest(f"Invalid input: {field}: {exc}", fields={field: str(exc)}) from None
        if resolved[field] is not None and not MIN_YEAR <= resolved[field].year <= MAX_YEAR:
            problem = f"{YEARS} in UTC"
            raise BadRequest(f"Invalid input: {field}: {problem}", fields={field: problem})
    return resolved


def check_window(start, end):
    """400 unless a query's `to` comes after its `from` (either may be left open)."""
    if start is not None and end is not None and end <= start:
        raise BadRequest("`to` must be after `from`", fields={"to": "must be after from"})
