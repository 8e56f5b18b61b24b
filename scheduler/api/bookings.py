from datetime import datetime, timezone
from typing import Annotated

from flask import Blueprint, g
from pydantic import StringConstraints

from .. import jobs
from ..auth import login_required
from ..context import redis_client
from ..db import transaction
from ..errors import BadRequest, Conflict, NotFound
from ..repositories import bookings, notifications, outbox
from ..validation import Body, Instant, parse

bp = Blueprint("bookings", __name__)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]

# What each booking event tells its owner: in-app notification type and text, and the email.
EVENTS = {
    "confirmed": ("BOOKING_CONFIRMED", 'Booking "{title}" confirmed',
                  "Your booking is scheduled from {start} to {end}.", "BOOKING_CONFIRMATION"),
    "updated": ("BOOKING_UPDATED", 'Booking "{title}" moved',
                "Your booking now runs from {start} to {end}.", "BOOKING_UPDATED"),
    "cancelled": ("BOOKING_CANCELLED", 'Booking "{title}" cancelled',
                  "Your booking has been cancelled.", "BOOKING_CANCELLED"),
}


class BookingIn(Body):
    title: Title
    start: Instant
    end: Instant


class BookingPatch(Body):
    title: Title | None = None
    start: Instant | None = None
    end: Instant | None = None


def check_times(start, end, *, check_start=True):
    if end <= start:
        raise BadRequest("End time must be after start time", fields={"end": "must be after start"})
    if check_start and start < datetime.now(timezone.utc):
        raise BadRequest("Start time cannot be in the past", fields={"start": "must be in the future"})


def announce(cur, user, booking, event):
    """Writes the event's notification and email in the caller's transaction; returns the email id."""
    kind, title, message, template = EVENTS[event]
    values = {"title": booking["title"], "start": booking["start_time"].isoformat(),
              "end": booking["end_time"].isoformat()}
    notifications.insert(cur, user["id"], kind=kind, title=title.format(**values),
                         message=message.format(**values), metadata={"booking_id": booking["id"]})
    return outbox.add(cur, to=user["email"], template=template,
                      payload={"name": user["name"], "booking_id": booking["id"], **values})


@bp.post("")
@login_required
def create_booking():
    data = parse(BookingIn)
    check_times(data.start, data.end)
    with transaction() as cur:
        booking = bookings.insert(cur, owner_id=g.user["id"], title=data.title, start=data.start, end=data.end)
        email_id = announce(cur, g.user, booking, "confirmed")
    jobs.send_emails(redis_client(), [email_id])
    return {"message": "Booking created successfully", "booking": booking}, 201


@bp.get("")
@login_required
def list_bookings():
    with transaction() as cur:
        return bookings.list_for_user(cur, g.user["id"])


@bp.get("/<id:booking_id>")
@login_required
def get_booking(booking_id):
    with transaction() as cur:
        booking = bookings.find_for_user(cur, booking_id, g.user["id"])
    if booking is None:
        raise NotFound("Booking not found")
    return booking


@bp.patch("/<id:booking_id>")
@login_required
def update_booking(booking_id):
    data = parse(BookingPatch)
    if data.title is None and data.start is None and data.end is None:
        raise BadRequest("Provide at least one of title, start, end to update")
    email_ids = []
    with transaction() as cur:
        current = bookings.find_for_user(cur, booking_id, g.user["id"], lock=True)
        if current is None:
            raise NotFound("Booking not found")
        if current["status"] != "confirmed":
            raise Conflict("A cancelled booking cannot be changed")
        start = data.start or current["start_time"]
        end = data.end or current["end_time"]
        check_times(start, end, check_start=start != current["start_time"])
        booking = bookings.update(cur, booking_id, title=data.title or current["title"], start=start, end=end)
        if (start, end) != (current["start_time"], current["end_time"]):
            email_ids.append(announce(cur, g.user, booking, "updated"))
    jobs.send_emails(redis_client(), email_ids)
    return {"message": "Booking updated successfully", "booking": booking}


@bp.delete("/<id:booking_id>")
@login_required
def cancel_booking(booking_id):
    with transaction() as cur:
        booking = bookings.cancel(cur, booking_id, g.user["id"])
        if booking is None:
            raise NotFound("Booking not found or already cancelled")
        email_id = announce(cur, g.user, booking, "cancelled")
    jobs.send_emails(redis_client(), [email_id])
    return {"message": "Booking cancelled successfully", "booking": booking}
