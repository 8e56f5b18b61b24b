"""Booking links, reached without a token: an event type's public face, its free slots, and
booking one as a guest. Strangers reach these routes, so they show the host's name and the
type's own fields and nothing else: no e-mail, no other bookings, no guests."""

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from flask import Blueprint
from psycopg2.errors import ExclusionViolation
from pydantic import Field, StringConstraints

from .. import announcements as announce, clock, jobs, links
from ..availability import MAX_WINDOW, TimeRange, Window
from ..context import redis_client, settings
from ..db import after_commit, retrying, single_statement, transaction
from ..errors import BadRequest, Conflict, NotFound
from ..idempotency import guest_scope, idempotent
from ..offers import Offer, empty_days
from ..openapi import Error, RateLimited, Shape, describe
from ..repositories import bookings, event_types
from ..repositories.locks import lock_people
from ..validation import Body, DateTime, Email, Name, Query, Zone, check_window, in_zone, parse, parse_query
from .auth import limit_client_address

bp = Blueprint("public", __name__)

# What a username or slug can look like; anything else is the same 404 without a query.
HANDLE = re.compile(r"^[A-Za-z0-9-]{1,60}$")
DEFAULT_WINDOW = timedelta(days=7)
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class SlotsQuery(Query):
    start: DateTime | None = Field(default=None, alias="from")
    end: DateTime | None = Field(default=None, alias="to")
    timezone: Zone = "UTC"


class GuestBookingIn(Body):
    start: DateTime
    name: Name
    email: Email
    timezone: Zone | None = None
    notes: Notes | None = None


class Person(Shape):
    name: str


class GuestContact(Shape):
    name: str
    email: str


class EventInfo(Shape):
    title: str
    description: str | None
    location: str | None
    duration: int = Field(description="Minutes.")
    host: Person


class EmptyDay(Shape):
    date: date
    reason: Literal["no_working_hours", "too_soon", "too_far_ahead", "fully_booked", "no_free_time"]


class Slots(Window):
    timezone: str = Field(description="The zone the times are written in.")
    slots: list[TimeRange]
    days: list[EmptyDay] = Field(description="Each local date in the window without slots, and why.")


class GuestView(Shape):
    start: datetime
    end: datetime
    timezone: str = Field(description="The guest's zone, which the times are written in.")
    title: str
    status: Literal["confirmed", "cancelled"]
    location: str | None
    host: Person
    guest: GuestContact


class GuestBooked(Shape):
    message: str
    booking: GuestView
    manage_token: str = Field(description="The guest's credential for /guest-bookings/<token>; shown once.")
    manage_url: str = Field(description="The manage page for people.")


def limit_public_posts():
    limit_client_address("public", settings().public_rate_limit)


def link_target(cur, username, slug):
    """The active event type behind a booking link, with its host. Unknown user, unknown slug
    and inactive type are one and the same 404."""
    event_type = event_types.find_public(cur, username, slug) if HANDLE.match(username) and HANDLE.match(slug) else None
    if event_type is None:
        raise NotFound("Booking link not found")
    return event_type


def slots_window():
    """The requested window in UTC (default: the next 7 days; at most 62) and the guest's zone."""
    query = parse_query(SlotsQuery)
    window = in_zone(query.timezone, start=query.start, end=query.end)
    start = window["start"] or clock.now()
    end = window["end"] or start + DEFAULT_WINDOW
    check_window(start, end)
    if end - start > MAX_WINDOW:
        raise BadRequest("The window can be at most 62 days", fields={"to": "at most 62 days after from"})
    return start, end, query.timezone


def slots_of(cur, event_type, window, *, excluding=None):
    """The slots response for the type over the window; `excluding` a booking being
    rescheduled, whose own time and count do not stand in its way."""
    start, end, zone_name = window
    offer = Offer.of(event_type, clock.now())
    blocked = bookings.commitments(cur, [event_type["host_id"]], *offer.blocked_window(start, end), excluding=excluding)
    counts = bookings.type_counts(cur, event_type["id"], offer.zone_name, *offer.counted_window(start, end),
                                  excluding=excluding) if offer.daily_limit else {}
    considered = offer.considered(start, end, [(c["start_time"], c["end_time"]) for c in blocked], counts)
    zone = ZoneInfo(zone_name)
    return {"timezone": zone_name, "from": start.astimezone(zone), "to": end.astimezone(zone),
            "slots": [{"start": s.astimezone(zone), "end": (s + offer.duration).astimezone(zone)}
                      for s, why in considered if why is None],
            "days": empty_days(considered, start, end, zone_name)}


def check_start(cur, event_type, start, *, excluding=None):
    """The write-time check, under the host's lock: 400 if `start` breaks one of the type's
    rules, 409 if its host-local day has reached the daily limit. Overlaps with the host's
    commitments and buffers are the exclusion constraint's to refuse (see `taken`)."""
    offer = Offer.of(event_type, clock.now())
    reason = offer.rule_broken(start)
    if reason:
        raise BadRequest(f"The start time {reason}", fields={"start": reason})
    if offer.daily_limit:
        counts = bookings.type_counts(cur, event_type["id"], offer.zone_name, *offer.day_bounds(start),
                                      excluding=excluding)
        if offer.day_full(start, counts):
            raise Conflict("That day is fully booked", fields={"start": "is on a day that is fully booked"})
    return offer


def taken():
    return Conflict("That time is no longer available", fields={"start": "was just taken, pick another time"})


def guest_view(booking, host_name):
    """A guest booking as its guest sees it, in the guest's zone."""
    zone = ZoneInfo(booking["guest"]["timezone"])
    return {"start": booking["start_time"].astimezone(zone), "end": booking["end_time"].astimezone(zone),
            "timezone": booking["guest"]["timezone"], "title": booking["title"], "status": booking["status"],
            "location": booking["location"], "host": {"name": host_name},
            "guest": {"name": booking["guest"]["name"], "email": booking["guest"]["email"]}}


def public_face(event_type):
    """What strangers see of an event type (this route and the booking page): its own fields
    and its host's name."""
    return {"title": event_type["title"], "description": event_type["description"],
            "location": event_type["location"], "duration": event_type["duration"],
            "host": {"name": event_type["host_name"]}}


@bp.get("/<username>/<slug>")
@describe(responses={200: EventInfo})
def event_info(username, slug):
    """What a booking link offers: the event type and its host's name.

    Unknown user, unknown slug and inactive type are the same 404."""
    with single_statement() as cur:
        return public_face(link_target(cur, username, slug))


@bp.get("/<username>/<slug>/slots")
@describe(query=SlotsQuery, responses={200: Slots})
def event_slots(username, slug):
    """The start times a booking link offers in a window (default the next 7 days, at most 62).

    Times are written in `timezone` (default UTC); `from` and `to` without an offset are read
    in it. A start is offered when it lies in the host's working hours, every `step` minutes
    from the start of each working interval in the host's zone, with the whole booking inside;
    when the booking with its buffers touches none of the host's commitments or their buffers;
    when it is at least `minimum_notice` minutes and at most `booking_window` days ahead; and
    when its host-local day has not reached `daily_limit`. `days` lists each local date in
    `timezone` without slots and why: `no_working_hours`, `too_soon`, `too_far_ahead`,
    `fully_booked` (the daily limit) or `no_free_time`."""
    window = slots_window()
    with transaction() as cur:
        return slots_of(cur, link_target(cur, username, slug), window)


@bp.post("/<username>/<slug>/bookings")
@describe(body=GuestBookingIn, responses={201: GuestBooked, 409: Error, 429: RateLimited})
@retrying
@idempotent(guest_scope)
def book(username, slug):
    """Book an offered start as a guest (no account).

    Every rule of the slot list is checked again when writing: a start that is not offered
    is 400 with the reason in `fields.start`; one taken meanwhile (or whose day filled up) is
    409. `start` without an offset is read in `timezone` (default UTC), which the guest's
    emails also use. The guest gets a confirmation with the invitation and the manage link;
    the host a notification and an email. Rate limited per client address."""
    limit_public_posts()
    data = parse(GuestBookingIn)
    zone_name = data.timezone or "UTC"
    start = in_zone(zone_name, start=data.start)["start"]
    salt = links.new_salt()
    token = links.manage_token(settings().jwt_secret, salt)
    try:
        with transaction() as cur:
            event_type = link_target(cur, username, slug)
            lock_people(cur, [event_type["host_id"]])
            offer = check_start(cur, event_type, start)
            booking, recipients = bookings.create(
                cur, owner_id=event_type["host_id"], title=event_type["title"], start=start,
                end=start + offer.duration, event_type_id=event_type["id"], location=event_type["location"],
                buffer_before=event_type["buffer_before"], buffer_after=event_type["buffer_after"],
                guest_name=data.name, guest_email=data.email, guest_timezone=zone_name, guest_notes=data.notes,
                guest_token_hash=links.token_hash(token), guest_token_salt=salt)
            queued = announce.booking_created(cur, booking, recipients)
    except ExclusionViolation:
        raise taken() from None
    after_commit(jobs.dispatch, redis_client(), queued)
    return {"message": "Booking confirmed", "booking": guest_view(booking, event_type["host_name"]),
            "manage_token": token, "manage_url": links.page_url("manage", token)}, 201
