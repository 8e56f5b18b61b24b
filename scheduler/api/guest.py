"""A guest manages their booking with the token from their confirmation: the token is the
only credential (only its hash is stored), and it reaches that one booking and nothing else."""


from datetime import datetime
from typing import Literal

from flask import Blueprint
from pydantic import Field

from ..auth import limit_public_posts, limit_public_reads
from ..booking_links import by_token, changeable, guest_view, later_in_series, link_of, policy_of, slots_of
from ..context import booking_write, transaction
from ..db import retrying
from ..openapi import Error, RateLimited, Shape, describe
from ..public_shapes import Assignment, GuestView
from ..validation import Body, DateTime, Paragraphs, Zone, in_zone, parse
from ..windows import Slots, SlotsQuery, slots_window

bp = Blueprint("guest_bookings", __name__)


class Reschedule(Body):
    start: DateTime
    timezone: Zone | None = None


class Cancellation(Body):
    reason: Paragraphs(500) | None = None
    scope: Literal["this", "following"] = Field(default="this", description=(
        "For an occurrence of a series: it alone, or it and the later ones not yet started."))


Closed = Literal["cancelled", "declined", "expired", "started", "pending", "seat", "notice"] | None


class WhyNot(Shape):
    cancel: Closed = Field(description="Why it can no longer be cancelled here; null: it can.")
    reschedule: Closed = Field(description=(
        "Why it can no longer be rescheduled here; null: it can. `pending`: a request, until confirmed; `seat`: a "
        "seat is cancelled and booked again, not moved; `notice`: the host's notice for it has begun."))


class ManagedView(GuestView):
    can_cancel: bool = Field(description="Whether the guest can still cancel it here.")
    can_reschedule: bool = Field(description="Whether the guest can still reschedule it here.")
    can_change: bool = Field(description="Whether it can still be cancelled or rescheduled.")
    why_not: WhyNot
    cancel_until: datetime = Field(description="Until when the host's cancel notice lets the guest cancel.")
    reschedule_until: datetime = Field(description="Until when the host's reschedule notice lets the guest "
                                                   "reschedule.")
    later: int = Field(description="An occurrence of a series: how many later ones are still confirmed and not "
                                   "started (`scope: following` cancels them, even from this one cancelled); else 0.")
    description: str | None = Field(description="Its event type's description, as the booking page shows it; null "
                                                "if it has none (or is gone).")


class Managed(Shape):
    booking: ManagedView


class GuestBookingSaved(Shape):
    message: str
    booking: GuestView


class GuestCancelled(GuestBookingSaved):
    bookings: list[GuestView] = Field(description="Every booking cancelled (with `scope: following`, several).")


class GuestBookingMoved(GuestBookingSaved):
    assignment: Assignment | None = Field(description="A round-robin team's booking: who has it now and why; "
                                                      "else null.")


@bp.get("/<token>")
@describe(responses={200: Managed, 429: RateLimited})
def show(token):
    """A guest's booking, by the token from their confirmation.

    An unknown token is 404. Rate limited per client address."""
    limit_public_reads()
    with transaction() as cur:
        booking = by_token(cur, token)
        later = later_in_series(cur, booking)
    return {"booking": guest_view(booking, booking["host_name"], booking["hosts"]) | policy_of(booking)
            | {"later": later, "description": booking["description"]}}


@bp.get("/<token>/slots")
@describe(query=SlotsQuery, responses={200: Slots, 409: Error, 429: RateLimited})
def reschedule_slots(token):
    """The slots the booking could move to.

    As the booking link offers them, except that the booking's own time and its place in the
    daily limit do not count against it. Rate limited per client address."""
    limit_public_reads()
    window = slots_window()
    with transaction() as cur:
        booking = by_token(cur, token)
        changeable(booking, "reschedule")
        return slots_of(cur, link_of(cur, booking), *window, excluding=booking["id"])


@bp.post("/<token>/cancel")
@describe(body=Cancellation, responses={200: GuestCancelled, 409: Error, 429: RateLimited})
@retrying
def cancel(token):
    """Cancel a guest booking.

    409 if it is cancelled already, has started, or the event type's `cancel_notice` before its
    start has begun.

    A request (pending) is withdrawn; a seat is given up (the last one cancels the booking).

    The guest gets the calendar cancellation (same UID, higher SEQUENCE); the host a
    notification and an email with the `reason`. An occurrence of a series is cancelled alone,
    or with `scope: following` with the later ones not yet started (told once; from an
    occurrence cancelled or past, the later ones; 409 when none is left); the calendars'
    series loses them."""
    limit_public_posts()
    data = parse(Cancellation)
    if data.scope == "this":
        written = booking_write().guest_cancel(token, reason=data.reason)
        return {"message": "Booking cancelled", "booking": written.seen_by_guest, "bookings": [written.seen_by_guest]}
    scoped = booking_write().guest_cancel_following(token, reason=data.reason)
    return {"message": "Bookings cancelled", "booking": scoped.written.seen_by_guest, "bookings": scoped.seen_by_guest}


@bp.post("/<token>/reschedule")
@describe(body=Reschedule, responses={200: GuestBookingMoved, 409: Error, 429: RateLimited})
@retrying
def reschedule(token):
    """Move a guest booking to another offered start.

    Same booking, same calendar UID (a higher SEQUENCE), new times; the same rules (and
    statuses) as booking. 409 if it is cancelled, has started, its type's `reschedule_notice`
    before the start has begun, it is a request not yet confirmed or a seat (cancel it and book
    again), or its event type is gone or inactive. `start` without an offset is read in `timezone` (default: the guest's zone). A
    round-robin team's booking keeps its host if they are free then, else goes to the host the
    team's rule picks; `assignment` says which and why."""
    limit_public_posts()
    data = parse(Reschedule)
    written = booking_write().guest_move(
        token, start_in=lambda guest_zone: in_zone(data.timezone or guest_zone, start=data.start)["start"])
    return {"message": "Booking moved", "booking": written.seen_by_guest, "assignment": written.assignment}
