"""What a booking link is to strangers, for the API's blueprints and the guest pages alike:
the event type behind a link, its slot list, the check of a start when writing, a guest's
booking found by its token, and what each of these shows. Strangers reach all of it, so what
it shows is the host's name and the type's own fields and nothing else: no e-mail, no other
bookings, no guests.

The rules themselves are `offers.Offer`'s; the write is booking_write's."""

import re
from zoneinfo import ZoneInfo

from . import clock
from .errors import BadRequest, Conflict, NotFound
from .keys import token_hash
from .offers import Offer, empty_days
from .repositories import bookings, event_types, person_time

# What a username or slug can look like; anything else is the same 404 without a query.
HANDLE = re.compile(r"^[A-Za-z0-9-]{1,60}$")
# What a manage token can look like (43 URL-safe base64 characters); anything else is a 404 without a query.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def link_target(cur, username, slug):
    """The active event type behind a booking link, with its host. Unknown user, unknown slug
    and inactive type are one and the same 404."""
    event_type = event_types.find_public(cur, username, slug) if HANDLE.match(username) and HANDLE.match(slug) else None
    if event_type is None:
        raise NotFound("Booking link not found")
    return event_type


def slots_of(cur, event_type, start, end, zone_name, *, excluding=None):
    """The slot list of the type over [start, end), written in `zone_name`; `excluding` a
    booking being rescheduled, whose own time and count do not stand in its way."""
    offer = Offer.of(event_type, clock.now())
    blocked = person_time.blocked(cur, [event_type["host_id"]], *offer.blocked_window(start, end), excluding=excluding)
    counts = bookings.type_counts(cur, event_type["id"], offer.zone_name, *offer.counted_window(start, end),
                                  excluding=excluding) if offer.limited else {}
    considered = offer.considered(start, end, [(b["start_time"], b["end_time"]) for b in blocked], counts)
    zone = ZoneInfo(zone_name)
    away = [(b["start_time"], b["end_time"]) for b in blocked if b["source"] == "time_off"]
    return {"timezone": zone_name, "from": start.astimezone(zone), "to": end.astimezone(zone),
            "slots": [{"start": s.astimezone(zone), "end": (s + offer.duration).astimezone(zone)}
                      for s, why in considered if why is None],
            "days": empty_days(considered, start, end, zone_name, away)}


def check_start(cur, event_type, start, *, excluding=None):
    """The write-time check, under the host's lock: 400 if `start` breaks one of the type's
    rules; 409 if the booking with its buffers would touch time the host is unavailable (time
    off) or its day or week has reached the type's limit. Overlaps with the host's bookings
    are the exclusion constraint's to refuse."""
    offer = Offer.of(event_type, clock.now())
    reason = offer.rule_broken(start)
    if reason:
        raise BadRequest(f"The start time {reason}", fields={"start": reason})
    if person_time.unavailable(cur, [event_type["host_id"]], *offer.blocked_span(start)):
        raise Conflict("That time is not available", fields={"start": "is a time the host is not available"})
    if offer.limited:
        counts = bookings.type_counts(cur, event_type["id"], offer.zone_name, *offer.counted_window(start, start),
                                      excluding=excluding)
        period = offer.limit_reached(start, counts)
        if period:
            raise Conflict(f"That {period} is fully booked", fields={"start": f"falls in a {period} that is fully booked"})
    return offer


def public_face(event_type):
    """What strangers see of an event type: its own fields and its host's name."""
    return {"title": event_type["title"], "description": event_type["description"],
            "location": event_type["location"], "duration": event_type["duration"],
            "host": {"name": event_type["host_name"]}}


def by_token(cur, token, *, lock=False):
    """The guest booking a manage token reaches, with its host's name; 404 otherwise."""
    booking = bookings.find_by_guest_token(cur, token_hash(token), lock=lock) if TOKEN.match(token) else None
    if booking is None:
        raise NotFound("Booking not found")
    return booking


def can_change(booking):
    return booking["status"] == "confirmed" and booking["start_time"] > clock.now()


def changeable(booking):
    """409 unless the guest can still cancel or move the booking."""
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


def guest_view(booking, host_name):
    """A guest booking as its guest sees it, in the guest's zone."""
    zone = ZoneInfo(booking["guest"]["timezone"])
    return {"start": booking["start_time"].astimezone(zone), "end": booking["end_time"].astimezone(zone),
            "timezone": booking["guest"]["timezone"], "title": booking["title"], "status": booking["status"],
            "location": booking["location"], "host": {"name": host_name},
            "guest": {"name": booking["guest"]["name"], "email": booking["guest"]["email"]}}
