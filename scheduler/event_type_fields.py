"""What every event type has, a person's or an organisation's: the fields of the request bodies
that make and change one, and those of the shape it is shown in. The event types blueprints
(personal and team) add what only their kind has."""

import ipaddress
import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from .openapi import Shape
from .validation import Body, Location, Paragraphs, Slug, Title, Whole

Description = Paragraphs(5000)
Duration = Annotated[int, Field(ge=5, le=720), Whole]
Buffer = Annotated[int, Field(ge=0, le=240), Whole]
Notice = Annotated[int, Field(ge=0, le=525600), Whole]
WindowDays = Annotated[int, Field(ge=1, le=365), Whole]
DailyLimit = Annotated[int, Field(ge=1, le=100), Whole]
WeeklyLimit = Annotated[int, Field(ge=1, le=500), Whole]
MaxOccurrences = Annotated[int, Field(ge=1, le=52), Whole]
ConfirmationHours = Annotated[int, Field(ge=1, le=168), Whole]
Seats = Annotated[int, Field(ge=2, le=1000), Whole]

MAX_EMBED_ORIGINS = 10
# scheme://host[:port][/], either case; what the rest must be is checked by embed_origin.
ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?/?$", re.IGNORECASE)
ORIGIN_SCHEMA_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.:\[\]-]+/?$"
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_PORTS = {"https": 443, "http": 80}
# Plain http only for the machine itself (a developer's test page); `[::1]` can't be named in a
# Content-Security-Policy (its host grammar has no IPv6 literals), so it is refused for all.
LOOPBACK = ("localhost", "127.0.0.1")


def embed_origin(text):
    """An origin that may frame a booking page, in the one form stored and sent in
    frame-ancestors: scheme and host in lower case, no default port, no trailing slash.
    ValueError for anything else: a path, query, fragment, user, wildcard, an http origin other
    than the machine's own, a host that is no DNS name or IPv4 address."""
    match = ORIGIN.fullmatch(text)
    if not match:
        raise ValueError("must be an origin, https://host[:port], with no path, query or wildcard")
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if host.startswith("["):
        raise ValueError("must name its host by name or IPv4 address (an IPv6 address can't be listed in "
                         "frame-ancestors)")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        if len(host) > 253 or not all(LABEL.match(label) for label in host.split(".")):
            raise ValueError("must name a valid host (an internationalised name in its xn-- form)") from None
        if host.replace(".", "").isdigit():
            raise ValueError("must name a valid host or IPv4 address")
    if scheme == "http" and host not in LOOPBACK:
        raise ValueError("must be https (http only for localhost and 127.0.0.1)")
    if port is not None:
        number = int(port)
        if not 1 <= number <= 65535:
            raise ValueError("must have a port between 1 and 65535")
        port = None if number == DEFAULT_PORTS[scheme] else str(number)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def distinct_origins(origins):
    if len(set(origins)) != len(origins):
        raise ValueError("must not name an origin twice (https://example.com:443 is https://example.com)")
    return origins


EMBED_ORIGINS = (f"Up to {MAX_EMBED_ORIGINS} origins (`https://host[:port]`; `http` only for localhost and "
                 "127.0.0.1) whose pages may embed the booking page in a frame: its Content-Security-Policy's "
                 "`frame-ancestors` lists exactly these (none when empty). Stored in lower case, without a "
                 "default port or trailing `/`; null or [] clears.")
# The pattern only describes (a superset of what embed_origin takes): embed_origin says what is wrong.
EmbedOrigin = Annotated[str, StringConstraints(max_length=300), Field(json_schema_extra={"pattern": ORIGIN_SCHEMA_PATTERN}),
                        AfterValidator(embed_origin)]
# null clears, as [] does: the column always holds a list.
EmbedOrigins = Annotated[list[EmbedOrigin] | None, BeforeValidator(lambda value: [] if value is None else value),
                         Field(max_length=MAX_EMBED_ORIGINS, description=EMBED_ORIGINS), AfterValidator(distinct_origins)]

REQUIRES_CONFIRMATION = ("A guest's booking is a request (`pending`, holding its time) until I confirm or decline it, "
                         "or `confirmation_hours` pass.")
CONFIRMATION_HOURS = "Hours a request waits for my answer before it expires (or until its start, if sooner)."
SEATS = ("Guests booking the same start share one booking, up to this many; null: one guest per booking. Not with "
         "`requires_confirmation`.")
CANCEL_NOTICE = "Minutes before the start after which a guest can no longer cancel (I always can)."
RESCHEDULE_NOTICE = "Minutes before the start after which a guest can no longer reschedule (I always can)."


class EventTypeFields(Body):
    slug: Slug
    title: Title
    description: Description | None = None
    location: Location | None = None
    duration: Duration
    step: Duration | None = None
    buffer_before: Buffer = 0
    buffer_after: Buffer = 0
    minimum_notice: Notice = 60
    booking_window: WindowDays = 60
    daily_limit: DailyLimit | None = None
    weekly_limit: WeeklyLimit | None = None
    max_occurrences: MaxOccurrences = Field(default=1, description="How many occurrences a guest may book as one "
                                                                   "series; 1: single bookings only (the only "
                                                                   "choice with approval or seats).")
    requires_confirmation: bool = Field(default=False, description=REQUIRES_CONFIRMATION)
    confirmation_hours: ConfirmationHours = Field(default=24, description=CONFIRMATION_HOURS)
    seats: Seats | None = Field(default=None, description=SEATS)
    cancel_notice: Notice = Field(default=0, description=CANCEL_NOTICE)
    reschedule_notice: Notice = Field(default=0, description=RESCHEDULE_NOTICE)
    embed_origins: EmbedOrigins = []
    active: bool = True


class EventTypeChanges(Body):
    """Only description, location, daily_limit, weekly_limit, seats and embed_origins may be set to null (cleared); a
    field left out stays as it is (the None default is never validated, so an explicit null is a
    400)."""

    slug: Slug = None
    title: Title = None
    description: Description | None = None
    location: Location | None = None
    duration: Duration = None
    step: Duration = None
    buffer_before: Buffer = None
    buffer_after: Buffer = None
    minimum_notice: Notice = None
    booking_window: WindowDays = None
    daily_limit: DailyLimit | None = None
    weekly_limit: WeeklyLimit | None = None
    max_occurrences: MaxOccurrences = None
    requires_confirmation: bool = None
    confirmation_hours: ConfirmationHours = None
    seats: Seats | None = None
    cancel_notice: Notice = None
    reschedule_notice: Notice = None
    embed_origins: EmbedOrigins = None
    active: bool = None


class EventTypeShape(Shape):
    id: int
    slug: str
    title: str
    description: str | None
    location: str | None
    duration: int = Field(description="Minutes.")
    step: int = Field(description="Minutes between offered starts, counted from each working interval's start.")
    buffer_before: int = Field(description="Minutes before a booking that must stay free.")
    buffer_after: int = Field(description="Minutes after a booking that must stay free.")
    minimum_notice: int = Field(description="Minutes: no start sooner than this from now.")
    booking_window: int = Field(description="Days: no start further ahead than this.")
    daily_limit: int | None = Field(description="Bookings of this type per host-local day.")
    weekly_limit: int | None = Field(description="Bookings of this type per host-local ISO week (Monday to Sunday).")
    max_occurrences: int = Field(description="How many occurrences a guest may book as one series (1: none).")
    requires_confirmation: bool = Field(description=REQUIRES_CONFIRMATION)
    confirmation_hours: int = Field(description=CONFIRMATION_HOURS)
    seats: int | None = Field(description=SEATS)
    cancel_notice: int = Field(description=CANCEL_NOTICE)
    reschedule_notice: int = Field(description=RESCHEDULE_NOTICE)
    embed_origins: list[str] = Field(description=EMBED_ORIGINS)
    active: bool
    created_at: datetime
    updated_at: datetime
