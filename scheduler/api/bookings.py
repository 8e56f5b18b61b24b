from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, Response, g
from pydantic import ConfigDict, Field, PlainValidator, WithJsonSchema

from .. import synctokens
from ..announcements import public_booking
from ..auth import login_required
from ..calendar import event_data, to_ics
from ..context import booking_write, settings, single_statement
from ..db import retrying
from ..errors import BadRequest, NotFound
from ..idempotency import idempotent
from ..openapi import Error, Shape, describe
from ..pagination import PageQuery, paginated
from ..preconditions import etag_header, require_match, tagged
from ..repositories import bookings
from ..validation import (Body, DateTime, Query, Title, Zone, at_least_one, check_email, check_window, in_zone, parse,
                          parse_query, whole_number)

bp = Blueprint("bookings", __name__)

def attendee(value):
    """A user id or an e-mail address, with one error message for anything else."""
    value = whole_number(value)
    if type(value) is int and 1 <= value <= 2**63 - 1:
        return value
    if isinstance(value, str):
        return check_email(value.strip())
    raise ValueError("must be a user id or an e-mail address")


Attendee = Annotated[int | str, PlainValidator(attendee), WithJsonSchema({
    "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "maxLength": 254}],
    "description": "A user id or an e-mail address."})]

class BookingIn(Body):
    title: Title
    start: DateTime = Field(description="ISO 8601; in the future.")
    end: DateTime = Field(description="ISO 8601; after `start`.")
    timezone: Zone | None = None
    attendees: Annotated[list[Attendee], Field(max_length=50)] = Field(
        default=[], description="People who share an organization with you.")


class BookingPatch(Body):
    """A null is the same as leaving the field out."""

    model_config = ConfigDict(json_schema_extra=at_least_one("title", "start", "end"))
    title: Title | None = None
    start: DateTime | None = Field(default=None, description="ISO 8601; in the future, before the (new or kept) end.")
    end: DateTime | None = Field(default=None, description="ISO 8601; after the (new or kept) start.")
    timezone: Zone | None = None


class Attendance(Body):
    status: Literal["accepted", "declined"]


class ListQuery(PageQuery):
    start: DateTime | None = Field(default=None, alias="from")
    end: DateTime | None = Field(default=None, alias="to", description="ISO 8601; after `from`.")
    status: Literal["confirmed", "cancelled"] | None = None
    timezone: Zone | None = None


class BookingAttendee(Shape):
    user_id: int
    name: str
    email: str
    status: Literal["needs-action", "accepted", "declined"]


class GuestDetails(Shape):
    name: str
    email: str
    timezone: str = Field(description="The zone the guest booked in; their emails use it.")
    notes: str | None


class Booking(Shape):
    id: int
    user_id: int = Field(description="The booker (for a guest booking, the host).")
    title: str
    start_time: datetime
    end_time: datetime
    status: Literal["confirmed", "cancelled"]
    created_at: datetime
    updated_at: datetime
    event_type_id: int | None = Field(description="The event type a guest booked through (null once deleted).")
    location: str | None
    guest: GuestDetails | None = Field(description="Who booked through a booking link, for guest bookings.")
    series_id: int | None = Field(description="The recurring series it is an occurrence of, if any.")
    occurrence: int | None = Field(description="Which occurrence of its series it is (1 is the first), if any.")
    attendees: list[BookingAttendee]


class BookingSaved(Shape):
    message: str
    booking: Booking


class Commitment(Shape):
    user_id: int
    name: str
    email: str
    start_time: datetime
    end_time: datetime


class Unavailable(Shape):
    user_id: int
    name: str
    email: str
    reason: Literal["away", "busy"] = Field(description="`away`: their time off; `busy`: their own calendar.")


class BookingConflict(Error):
    conflicts: list[Commitment | Unavailable] = Field(default_factory=list, description=(
        "When the time is taken: who is busy, and when (a booking of theirs), or that an attendee "
        "is not available then, and nothing more."))


class SyncQuery(Query):
    token: str | None = Field(default=None, description="`next_token` from the last sync; none for a full sync.")
    limit: int = Field(default=50, ge=1, le=200)


class SyncPage(Shape):
    bookings: list[Booking]
    next_token: str = Field(description="For the next page (when `more`) or the next sync.")
    more: bool = Field(description="More changes wait: call again at once with `next_token`.")


def unchanged(booking):
    """If-Match: 412 unless the client saw the booking as it is stored now."""
    require_match(public_booking(booking))


@bp.post("")
@describe(body=BookingIn, responses={201: BookingSaved, 409: BookingConflict})
@login_required
@retrying
@idempotent()
def create_booking():
    """Book time, optionally with attendees.

    `attendees` are e-mails or ids of people who share an organisation with me, both of us
    having accepted it. 409 if it would double-book me or any attendee, with `conflicts`.
    Everyone gets a notification and an email with the invitation."""
    data = parse(BookingIn)
    times = in_zone(data.timezone or g.user["timezone"], start=data.start, end=data.end)
    written = booking_write().create(g.user, title=data.title, attendees=data.attendees, **times)
    return {"message": "Booking created successfully", "booking": written.for_attendees}, 201


@bp.get("")
@describe(query=ListQuery, responses={200: list[Booking]})
@login_required
def list_bookings():
    """Bookings I attend (the booker is one), by start time."""
    query = parse_query(ListQuery)
    window = in_zone(query.timezone or g.user["timezone"], start=query.start, end=query.end)
    check_window(window["start"], window["end"])
    with single_statement() as cur:
        return paginated(query, ("start_time", "id"), lambda after, limit: bookings.list_for_attendee(
            cur, g.user["id"], **window, status=query.status, after=after, limit=limit))


@bp.get("/sync")
@describe(query=SyncQuery, responses={200: SyncPage, 410: Error})
@login_required
def sync_bookings():
    """Bookings changed since my last sync (Google Calendar-style sync tokens).

    Without `token`: every booking I attend, in every state (declined by me too). With the
    `next_token` of the last sync: each booking I attend that changed since (created, moved,
    renamed, cancelled, an attendee's answer), once, as it is now. `more: true` means call
    again at once with `next_token`; otherwise keep it for next time. 410: the token is
    invalid, not mine or older than SYNC_TOKEN_TTL; sync again without one."""
    query = parse_query(SyncQuery)
    position = synctokens.read(query.token, g.user["id"]) if query.token else synctokens.Position()
    with single_statement() as cur:
        upto = position.upto or bookings.snapshot(cur)
        rows = bookings.changed_for_attendee(cur, g.user["id"], since=position.since, upto=upto,
                                             after=position.after, limit=query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    following = (synctokens.Position(position.since, upto, (rows[-1]["changed_xid"], rows[-1]["id"])) if more
                 else synctokens.Position(since=upto))
    return {"bookings": [{k: v for k, v in row.items() if k != "changed_xid"} for row in rows],
            "next_token": synctokens.issue(g.user["id"], following), "more": more}


def visible(booking_id):
    """A booking I attend; 404 otherwise, whether or not it exists."""
    with single_statement() as cur:
        booking = bookings.find_visible(cur, booking_id, g.user["id"])
    if booking is None:
        raise NotFound("Booking not found")
    return booking


@bp.get("/<id:booking_id>")
@describe(responses={200: Booking}, conditional="read")
@login_required
def get_booking(booking_id):
    """One booking I attend; 404 for others'."""
    return tagged(public_booking(visible(booking_id)))


@bp.get("/<id:booking_id>/ics")
@describe(responses={200: "text/calendar"})
@login_required
def booking_ics(booking_id):
    """One booking I attend as an iCalendar file."""
    booking = visible(booking_id)
    body = to_ics([event_data(booking, settings().mail_domain)], zone_name=g.user["timezone"])
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="booking-{booking_id}.ics"'})


@bp.patch("/<id:booking_id>")
@describe(body=BookingPatch, responses={200: BookingSaved, 403: Error, 409: BookingConflict}, conditional="write")
@login_required
@retrying
def update_booking(booking_id):
    """Rename or move a booking I booked.

    409 if it would double-book any attendee (with `conflicts`) or the booking is cancelled;
    attendees who are not the booker get 403."""
    data = parse(BookingPatch)
    if data.title is None and data.start is None and data.end is None:
        raise BadRequest("Provide at least one of title, start, end to update")
    changes = in_zone(data.timezone or g.user["timezone"], start=data.start, end=data.end)
    written = booking_write().update(g.user["id"], booking_id, title=data.title, **changes, expect=unchanged)
    shape = written.for_attendees
    return {"message": "Booking updated successfully", "booking": shape}, 200, etag_header(shape)


@bp.delete("/<id:booking_id>")
@describe(responses={200: BookingSaved, 403: Error}, conditional="write")
@login_required
@retrying
def cancel_booking(booking_id):
    """Cancel a booking I booked (it stays, with `status: cancelled`); 404 if already cancelled."""
    written = booking_write().cancel(g.user["id"], booking_id, expect=unchanged)
    return {"message": "Booking cancelled successfully", "booking": written.for_attendees}


@bp.patch("/<id:booking_id>/attendance")
@describe(body=Attendance, responses={200: BookingSaved, 409: BookingConflict})
@login_required
@retrying
def answer(booking_id):
    """Accept or decline a booking I am invited to.

    An attendee accepts or declines; accepting is refused (409) if it would double-book them.
    The hosts of a guest booking (a collective team's) attend it and don't answer it (409)."""
    data = parse(Attendance)
    written = booking_write().answer(g.user, booking_id, data.status)
    return {"message": f"Attendance {data.status}", "booking": written.for_attendees}
