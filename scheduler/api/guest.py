"""A guest manages their booking with the token from their confirmation: the token is the
only credential (only its hash is stored), and it reaches that one booking and nothing else."""

import re
from typing import Annotated

from flask import Blueprint
from psycopg2.errors import ExclusionViolation
from pydantic import Field, StringConstraints

from .. import announcements as announce, clock, jobs, links
from ..context import redis_client
from ..db import after_commit, retrying, single_statement, transaction
from ..errors import Conflict, NotFound
from ..openapi import Error, RateLimited, Shape, describe
from ..repositories import bookings, event_types
from ..repositories.locks import lock_people
from ..validation import Body, DateTime, Zone, in_zone, parse
from .public import (GuestView, Slots, SlotsQuery, check_start, guest_view, limit_public_posts, slots_of,
                     slots_window, taken)

bp = Blueprint("guest_bookings", __name__)

# What a token can look like (43 URL-safe base64 characters); anything else is a 404 without a query.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


class Reschedule(Body):
    start: DateTime
    timezone: Zone | None = None


class Cancellation(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class ManagedView(GuestView):
    can_change: bool = Field(description="Whether it can still be cancelled or rescheduled.")


class Managed(Shape):
    booking: ManagedView


class GuestBookingSaved(Shape):
    message: str
    booking: GuestView


def by_token(cur, token, *, lock=False):
    booking = bookings.find_by_guest_token(cur, links.token_hash(token), lock=lock) if TOKEN.match(token) else None
    if booking is None:
        raise NotFound("Booking not found")
    return booking


def changeable(booking):
    """409 unless the booking can still be cancelled or moved."""
    if booking["status"] != "confirmed":
        raise Conflict("This booking is cancelled")
    if booking["start_time"] <= clock.now():
        raise Conflict("This booking has already started")


def bookable_type(cur, booking):
    """The active type a booking was made through: rescheduling follows its rules."""
    event_type = event_types.find_with_host(cur, booking["event_type_id"]) if booking["event_type_id"] else None
    if event_type is None or not event_type["active"]:
        raise Conflict("This booking can no longer be rescheduled, only cancelled")
    return event_type


def can_change(booking):
    return booking["status"] == "confirmed" and booking["start_time"] > clock.now()


@bp.get("/<token>")
@describe(responses={200: Managed})
def show(token):
    """A guest's booking, by the token from their confirmation; an unknown token is 404."""
    with single_statement() as cur:
        booking = by_token(cur, token)
    return {"booking": guest_view(booking, booking["host_name"]) | {"can_change": can_change(booking)}}


@bp.get("/<token>/slots")
@describe(query=SlotsQuery, responses={200: Slots, 409: Error})
def reschedule_slots(token):
    """The slots the booking could move to: as the booking link offers them, except that the
    booking's own time and its place in the daily limit do not count against it."""
    window = slots_window()
    with transaction() as cur:
        booking = by_token(cur, token)
        changeable(booking)
        return slots_of(cur, bookable_type(cur, booking), window, excluding=booking["id"])


@bp.post("/<token>/cancel")
@describe(body=Cancellation, responses={200: GuestBookingSaved, 409: Error, 429: RateLimited})
@retrying
def cancel(token):
    """Cancel a guest booking; 409 if it is cancelled already or has started.

    The guest gets the calendar cancellation (same UID, higher SEQUENCE); the host a
    notification and an email with the `reason`."""
    limit_public_posts()
    data = parse(Cancellation)
    with transaction() as cur:
        current = by_token(cur, token, lock=True)
        changeable(current)
        lock_people(cur, [current["user_id"]])
        booking = bookings.cancel(cur, current["id"], current["user_id"])
        recipients = bookings.recipients(cur, booking["id"])
        queued = announce.guest_cancelled(cur, booking, recipients, data.reason)
    after_commit(jobs.dispatch, redis_client(), queued)
    return {"message": "Booking cancelled", "booking": guest_view(booking, current["host_name"])}


@bp.post("/<token>/reschedule")
@describe(body=Reschedule, responses={200: GuestBookingSaved, 409: Error, 429: RateLimited})
@retrying
def reschedule(token):
    """Move a guest booking to another offered start.

    Same booking, same calendar UID (a higher SEQUENCE), new times; the same rules (and
    statuses) as booking. 409 if it is cancelled, has started, or its event type is gone or
    inactive. `start` without an offset is read in `timezone` (default: the guest's zone)."""
    limit_public_posts()
    data = parse(Reschedule)
    try:
        with transaction() as cur:
            current = by_token(cur, token, lock=True)
            changeable(current)
            event_type = bookable_type(cur, current)
            start = in_zone(data.timezone or current["guest"]["timezone"], start=data.start)["start"]
            lock_people(cur, [current["user_id"]])
            offer = check_start(cur, event_type, start, excluding=current["id"])
            booking = bookings.update(cur, current["id"], title=current["title"], start=start,
                                      end=start + offer.duration)
            recipients = bookings.recipients(cur, booking["id"])
            queued = announce.guest_moved(cur, booking, recipients)
    except ExclusionViolation:
        raise taken() from None
    after_commit(jobs.dispatch, redis_client(), queued)
    return {"message": "Booking moved", "booking": guest_view(booking, current["host_name"])}
