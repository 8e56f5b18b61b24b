"""What fires: the event types, their payloads, and the write that fans an event out to the
subscribed endpoints inside the transaction of the change (a rolled-back change fires nothing;
a committed one is never lost)."""

from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from ..repositories import webhooks

BOOKING_EVENTS = ("booking.created", "booking.updated", "booking.cancelled", "attendee.responded",
                  "booking.requested", "booking.confirmed", "booking.declined", "booking.expired", "booking.no_show")
TEST_EVENT = "webhook.test"
# The specification's advice; a booking with many long names and addresses could pass it.
MAX_PAYLOAD_BYTES = 20_000


def payload(type, data, **extra):
    """The body to send, as bytes-to-be: {type, timestamp, data, ...extra}, compact JSON."""
    moment = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps({"type": type, "timestamp": moment, "data": data, **extra}).decode()


def booking_payload(type, booking, **extra):
    """The booking as the API shows it. Past MAX_PAYLOAD_BYTES its attendees are cut to
    user_id and status, a seated booking's list of guests is left out (its counts stay), and
    `abridged: true` says so (GET /bookings/<id> has the rest)."""
    body = payload(type, booking, **extra)
    if len(body.encode()) <= MAX_PAYLOAD_BYTES:
        return body
    attendees = [{key: a[key] for key in ("user_id", "status") if key in a} for a in booking.get("attendees", [])]
    short = booking | {"attendees": attendees}
    if booking.get("seats"):
        short["seats"] = booking["seats"] | {"guests": []}
    return payload(type, short, **extra, abridged=True)


def max_attempts(settings):
    return len(settings.webhook_retry_schedule) + 1


@dataclass
class Event:
    """A booking event, for the endpoints of `people` (user ids) and of the organisations they
    have accepted; `extra` goes into the payload beside the booking."""

    type: str
    booking: dict
    people: list
    extra: dict = field(default_factory=dict)


def fire(cur, settings, event, endpoint_ids):
    """Writes a delivery of the event to each of `endpoint_ids` (those subscribed to it, as
    repositories.messages.write finds them); returns the delivery ids to enqueue after the
    commit. With no subscriber no payload is built."""
    if not endpoint_ids:
        return []
    deliveries = webhooks.add_deliveries(cur, endpoint_ids, type=event.type,
                                         payload=booking_payload(event.type, event.booking, **event.extra),
                                         max_attempts=max_attempts(settings))
    return [delivery["id"] for delivery in deliveries]
