"""The one validation mechanism: pydantic models over the JSON body or the query string."""

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated

import orjson
from flask import request
from gunicorn.http.errors import ParseException
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StringConstraints,
                      ValidationError, WithJsonSchema, model_validator)
from werkzeug.exceptions import RequestEntityTooLarge

from . import languages
from .email_addresses import hidden_characters, normalise, visible_text_pattern
from .errors import BadRequest, UnsupportedMediaType
from .timezones import NonexistentLocalTime, check_zone, to_utc

# Far enough for any calendar, and clear of datetime's limits when zones and windows shift times.
MIN_YEAR, MAX_YEAR = 1900, 2999
YEARS = f"must be between the years {MIN_YEAR} and {MAX_YEAR}"
MAX_DEPTH = 32


# Where a body's members other than its fields are described (scheduler/openapi.py defines it).
ANY_JSON_REF = "#/components/schemas/AnyJson"
# Text in a body may not hold NUL (check_contents): PostgreSQL can't store it.
WITHOUT_NUL = r"^[^\u0000]*$"


def ignored_members(schema):
    """Unknown members are ignored, but the body as a whole must still pass check_contents. A
    field that may be left out but not sent as null has no default to show."""
    schema.setdefault("additionalProperties", {"$ref": ANY_JSON_REF})
    schema["propertyNames"] = {"pattern": WITHOUT_NUL}
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None and "anyOf" not in prop:
            del prop["default"]


class Body(BaseModel):
    """A JSON request body: types are strict (no "42" for 42), unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra=ignored_members)


def at_least_one(*names, null_counts=False):
    """A PATCH body's rule, for its JSON Schema: one of `names` is given, and not null unless
    `null_counts` (a null that clears a field is a change)."""
    def extra(schema):
        ignored_members(schema)
        schema["anyOf"] = [{"required": [name]} | ({} if null_counts else {"properties": {name: {"not": {"type": "null"}}}})
                           for name in names]
    extra.one_of = names  # so that the body is described as required (scheduler/openapi.py)
    return extra


def whole_number(value):
    """JSON has one number type: 30.0 is the integer 30 (as JSON Schema's "integer" says), 30.5 is not."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# For the ints of a strict body, after their bounds: 30 or 30.0, never "30".
Whole = BeforeValidator(whole_number)


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
# Handles a booking link must not take: the service's own paths and words people would trust.
RESERVED_HANDLES = frozenset("""
    about account admin administrator api app auth book bookings calendar dashboard docs guest guest-bookings
    health help login logout manage me new null organizations pages public register root scheduler settings
    static support system team teams undefined user users webhooks www
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
        if not allowed_in_text(ch, lines=lines):
            raise ValueError("must be one line, without control characters" if not lines
                             else "must not contain control characters other than line breaks and tabs")
    return value


def allowed_in_text(ch, *, lines):
    return (ch not in TEXT_DIRECTION_CONTROLS and (ch not in LINE_BREAKS or lines)
            and (unicodedata.category(ch) != "Cc" or ch in LINE_BREAKS))


def check_line(value):
    return check_text(value, lines=False)


def check_lines(value):
    return check_text(value, lines=True)


def check_public_handle(value):
    if value in RESERVED_HANDLES:
        raise ValueError("is reserved, choose another")
    return check_handle(value)


def check_password(value):
    if len(value.encode()) > 72:
        raise ValueError("must be at most 72 bytes")
    return value


# What parse_time and in_zone accept, less leap days and the years at the ends (which may leave
# the range in UTC); without `format: date-time`, which requires the offset we make optional.
DATE_TIME_PATTERN = (r"^(?:190[1-9]|19[1-9]\d|2[0-8]\d\d|29[0-8]\d|299[0-8])-"
                     r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
                     r"T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?$")
DateTime = Annotated[datetime, BeforeValidator(parse_time), WithJsonSchema({
    "type": "string", "pattern": DATE_TIME_PATTERN, "examples": ["2030-01-01T09:00:00+01:00"],
    "description": f"ISO 8601, years {MIN_YEAR}-{MAX_YEAR} (in UTC too). Without an offset: wall-clock time in "
                   "the request's `timezone`, else the user's own."})]
# The ~600 zone names are one component, which scheduler/openapi.py puts where this mark is.
ZONE_MARK = "x-time-zone"
Zone = Annotated[str, AfterValidator(check_zone), WithJsonSchema({"type": "string", ZONE_MARK: True})]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(check_email),
                  WithJsonSchema({"type": "string", "format": "email", "maxLength": 254})]


def check_language(value):
    tag = languages.tag_of(value)
    if tag is None:
        raise ValueError(f"must be a language tag (BCP 47, such as de or en-US) of one of {', '.join(languages.LANGUAGES)}")
    return tag


# Any case, as BCP 47 has it; a region or script we don't know is dropped (check_language).
LANGUAGE_PATTERN = ("^(?:" + "|".join("".join(f"[{c.upper()}{c}]" for c in code) for code in languages.LANGUAGES)
                    + ")(?:[-_][A-Za-z0-9]{1,8})*$")
Language = Annotated[str, AfterValidator(check_language), WithJsonSchema({
    "type": "string", "maxLength": 35, "pattern": LANGUAGE_PATTERN, "examples": ["de", "en-US", "ja"],
    "description": f"A language tag (BCP 47) of one of {', '.join(languages.LANGUAGES)}; its region, if any, "
                   "chooses how dates and times are written (en-US: 2:00 PM; en: 14:00)."})]
# bcrypt reads 72 bytes; JSON Schema counts characters, so the description says it in words.
PASSWORD_BYTES = "At most 72 bytes in UTF-8."
Password = Annotated[str, StringConstraints(min_length=6), AfterValidator(check_password),
                     Field(description=PASSWORD_BYTES)]
# A password to check against a stored one: any length that could have been set.
LoginPassword = Annotated[str, StringConstraints(min_length=1), AfterValidator(check_password),
                          Field(description=PASSWORD_BYTES)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 AfterValidator(check_visible),
                 Field(json_schema_extra=lambda schema: schema.update(pattern=visible_text_pattern()))]
# Text shown beside names in lists, e-mail subjects and calendars: one line each.
# (Stated in words: as a pattern over all of Unicode, schemathesis took minutes to generate it.)
ONE_LINE = "One line: no control characters (line breaks and tabs included) and no text-direction controls (U+202A-U+202E, U+2066-U+2069)."
LINES = "No control characters but line breaks and tabs, and no text-direction controls (U+202A-U+202E, U+2066-U+2069)."


def Line(max_length, *, min_length=None):
    """One line of text (titles, locations, time off's reasons), up to max_length."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     AfterValidator(check_line), Field(description=ONE_LINE)]


Title = Line(255, min_length=1)
Location = Line(500)


def Paragraphs(max_length):
    """Free text that may run over several lines (descriptions, notes, reasons), up to max_length."""
    return Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length), AfterValidator(check_lines),
                     Field(description=LINES)]


# A handle's letters in either case (they are stored in lower case).
HANDLE_SCHEMA_PATTERN = "^[A-Za-z0-9-]+$"


def any_case(word):
    """A regular expression for `word` in any mix of cases (JSON Schema's have no (?i))."""
    return "".join(f"[{ch}{ch.upper()}]" if ch.isalpha() else re.escape(ch) for ch in word)


# Public handles in booking links (a person's username, an organisation's slug), compared and
# stored in lower case.
Handle = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=40),
                   AfterValidator(check_public_handle), Field(json_schema_extra={
                       "pattern": HANDLE_SCHEMA_PATTERN,
                       "not": {"pattern": f"^({'|'.join(any_case(word) for word in sorted(RESERVED_HANDLES))})$"}})]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=60),
                 AfterValidator(check_handle), Field(json_schema_extra={"pattern": HANDLE_SCHEMA_PATTERN})]


# A row's id in a body: what the URLs' ids are (scheduler/http.py's IdConverter).
RowId = Annotated[int, Field(ge=1, le=2**63 - 1), Whole]
WallTime = Annotated[str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]


class Interval(Body):
    """`end` after `start` (24:00 is the end of the day)."""

    start: WallTime
    end: WallTime

    @model_validator(mode="after")
    def ordered(self):
        if self.start == "24:00" or (self.end != "24:00" and self.end <= self.start):
            raise ValueError("end must be after start")
        return self


def without_overlaps(intervals):
    """A day's intervals may touch (09:00-12:00, 12:00-17:00) but not overlap."""
    ordered = sorted(intervals, key=lambda i: i.start)
    for earlier, later in zip(ordered, ordered[1:]):
        if earlier.end == "24:00" or later.start < earlier.end:
            raise ValueError("intervals overlap")
    return intervals


# One day's hours, in local wall-clock time: a weekday's, or a date's instead of its weekday's.
DayHours = Annotated[list[Interval], Field(max_length=6), AfterValidator(without_overlaps)]


class WorkingHours(Body):
    """Local wall-clock hours per weekday; a day left out is a day off."""

    model_config = ConfigDict(strict=True, extra="forbid")
    mon: DayHours = []
    tue: DayHours = []
    wed: DayHours = []
    thu: DayHours = []
    fri: DayHours = []
    sat: DayHours = []
    sun: DayHours = []


DAY_SHAPE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def calendar_date(value):
    """YYYY-MM-DD text -> date: a real one (2027-02-30 is not)."""
    if not isinstance(value, str) or not DAY_SHAPE.match(value):
        raise ValueError("must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a date in the calendar") from None


Day = Annotated[date, PlainValidator(calendar_date)]


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
