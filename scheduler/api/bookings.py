from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, Response, g
from pydantic import ConfigDict, Field, PlainValidator, WithJsonSchema

from .. import synctokens
from ..announcements import public_booking
from ..auth import login_required
from ..calendar import events_of, to_ics
from ..context import booking_write, settings, single_statement, transaction
from ..db import retrying
from ..errors import BadRequest, NotFound
from ..idempotency import idempotent
from ..openapi import Error, Shape, describe
from ..pagination import PageQuery, paginated
from ..public_shapes import OccurrenceConflict, OnConflict, SeriesShown
from ..preconditions import etag_header, require_match, tagged
from ..recurrence import Recurrence
from ..repositories import bookings, series
from ..validation import (Body, DateTime, Paragraphs, Query, RowId, Title, Zone, at_least_one, check_email,
                          check_window, in_zone, parse, parse_query, whole_number)

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
    timezone: Zone | None = Field(default=None, description="Reads `start` and `end` without an offset, and expands "
                                                           "`recurrence`; default: my zone.")
    attendees: Annotated[list[Attendee], Field(max_length=50)] = Field(
        default=[], description="People who share an organization with you.")
    recurrence: Recurrence | None = Field(default=None, description="Book a series: `start`-`end` is its first "
                                                                     "occurrence.")
    on_conflict: OnConflict = "fail"


class BookingPatch(Body):
    """A null is the same as leaving the field out."""

    model_config = ConfigDict(json_schema_extra=at_least_one("title", "start", "end"))
    title: Title | None = None
    start: DateTime | None = Field(default=None, description="ISO 8601; in the future, before the (new or kept) end.")
    end: DateTime | None = Field(default=None, description="ISO 8601; after the (new or kept) start.")
    timezone: Zone | None = None


class Scope(Query):
    scope: Literal["this", "following", "all"] = Field(default="this", description=(
        "For an occurrence of a series: it alone, it and those after it, or every occurrence (still confirmed)."))


class Attendance(Body):
    status: Literal["accepted", "declined"]


Reason = Paragraphs(500)


class Reasoned(Body):
    reason: Reason | None = Field(default=None, description="Told to the guest (a cancellation's: and the "
                                                           "attendees), and in the webhook.")


class CancelQuery(Scope):
    reason: Reason | None = Field(default=None, description="As `reason` in the body (which wins).")


def who_missed(value):
    """"guest" or a user id, with one error message for anything else."""
    value = whole_number(value)
    if value == "guest" or (type(value) is int and 1 <= value <= 2**63 - 1):
        return value
    raise ValueError('must be "guest" or a user id')


Who = Annotated[Literal["guest"] | int, PlainValidator(who_missed), WithJsonSchema({
    "anyOf": [{"const": "guest"}, {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}],
    "description": '`"guest"`, or the user id of an attendee.'})]


class NoShow(Body):
    who: Who
    seat_id: RowId | None = Field(default=None, description="A seated booking's: which seat's guest (`who: guest`).")
    no_show: bool = Field(default=True, description="false: they came after all.")

Status = Literal["confirmed", "pending", "declined", "expired", "cancelled"]


class ListQuery(PageQuery):
    start: DateTime | None = Field(default=None, alias="from")
    end: DateTime | None = Field(default=None, alias="to", description="ISO 8601; after `from`.")
    status: Status | None = None
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
    language: str = Field(description="The language the guest booked in (BCP 47); their emails use it.")
    notes: str | None


class Seat(Shape):
    id: int
    name: str
    email: str
    timezone: str
    language: str
    notes: str | None
    status: Literal["confirmed", "cancelled"]
    no_show: bool


class Seats(Shape):
    capacity: int
    taken: int
    guests: list[Seat] = Field(description="Every seat's guest, given up ones too (`status: cancelled`).")


class NoShows(Shape):
    guest: bool = Field(description="The guest did not come (a seat's guest: see `seats`).")
    user_ids: list[int] = Field(description="The attendees who did not come.")


class Booking(Shape):
    id: int
    user_id: int = Field(description="The booker (for a guest booking, the host).")
    title: str
    start_time: datetime
    end_time: datetime
    status: Status = Field(description=(
        "`pending`: a guest's request the host has yet to confirm (it holds the time until `expires_at`); "
        "`declined`, `expired`: a request that ended unconfirmed."))
    created_at: datetime
    updated_at: datetime
    event_type_id: int | None = Field(description="The event type a guest booked through (null once deleted).")
    location: str | None
    guest: GuestDetails | None = Field(description="Who booked through a booking link, for guest bookings.")
    series_id: int | None = Field(description="The recurring series it is an occurrence of, if any.")
    occurrence: int | None = Field(description="Which occurrence of its series it is (1 is the first), if any.")
    expires_at: datetime | None = Field(description="A request's: when it expires unless confirmed.")
    seats: Seats | None = Field(description="A seated booking's seats and their guests; null for others.")
    no_show: NoShows
    attendees: list[BookingAttendee]


class BookingSaved(Shape):
    message: str
    booking: Booking


class SeriesSaved(Shape):
    message: str
    series: SeriesShown
    bookings: list[Booking] = Field(description="Every occurrence booked, by occurrence.")
    skipped: list[OccurrenceConflict] = Field(default_factory=list, description=(
        "With `on_conflict: skip`: the occurrences not booked, and why."))


class ScopedSaved(BookingSaved):
    bookings: list[Booking] = Field(description="Every booking the request changed (with `scope`, several "
                                                "occurrences of a series).")


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
    conflicts: list[Commitment | Unavailable | OccurrenceConflict] = Field(default_factory=list, description=(
        "When the time is taken: who is busy, and when (a booking of theirs), or that an attendee "
        "is not available then, and nothing more; for a series, each occurrence refused and whose time it is."))


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
@describe(body=BookingIn, responses={201: BookingSaved | SeriesSaved, 409: BookingConflict})
@login_required("bookings:write")
@retrying
@idempotent()
def create_booking():
    """Book time, optionally with attendees, once or as a series.

    `attendees` are e-mails or ids of people who share an organisation with me, both of us
    having accepted it. 409 if it would double-book me or any attendee, with `conflicts`.
    Everyone gets a notification and an email with the invitation.

    With `recurrence`, every occurrence (expanded in `timezone`'s wall-clock time, so 10:00
    stays 10:00 across a clock change) is checked as one booking is, and all are written or
    none: 409 lists every occurrence refused, or with `on_conflict: skip` the others are
    written and `skipped` lists those. Each occurrence is a booking with `series_id` and
    `occurrence`; the invitation is one calendar event for the series."""
    data = parse(BookingIn)
    zone_name = data.timezone or g.user["timezone"]
    times = in_zone(zone_name, start=data.start, end=data.end)
    if data.recurrence is None:
        written = booking_write().create(g.user, title=data.title, attendees=data.attendees, **times)
        return {"message": "Booking created successfully", "booking": written.for_attendees}, 201
    written = booking_write().create_series(g.user, title=data.title, attendees=data.attendees, zone_name=zone_name,
                                            recurrence=data.recurrence, on_conflict=data.on_conflict, **times)
    return {"message": "Series created successfully", "series": written.shown, "bookings": written.for_attendees,
            "skipped": written.skipped}, 201


@bp.get("")
@describe(query=ListQuery, responses={200: list[Booking]})
@login_required("bookings:read")
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
@login_required("bookings:read")
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
@login_required("bookings:read")
def get_booking(booking_id):
    """One booking I attend; 404 for others'."""
    return tagged(public_booking(visible(booking_id)))


@bp.get("/<id:booking_id>/ics")
@describe(responses={200: "text/calendar"})
@login_required("bookings:read")
def booking_ics(booking_id):
    """One booking I attend as an iCalendar file; an occurrence's is its whole series, as one event."""
    booking = visible(booking_id)
    with transaction() as cur:
        in_series = series.calendar_of(cur, [booking])
    body = to_ics(events_of([booking], *in_series, settings().mail_domain), zone_name=g.user["timezone"])
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="booking-{booking_id}.ics"'})


@bp.patch("/<id:booking_id>")
@describe(body=BookingPatch, query=Scope, responses={200: ScopedSaved, 403: Error, 409: BookingConflict},
          conditional="write")
@login_required("bookings:write")
@retrying
def update_booking(booking_id):
    """Rename or move a booking I booked.

    409 if it would double-book any attendee (with `conflicts`) or the booking is cancelled;
    attendees who are not the booker get 403. For an occurrence of a series, `scope` renames
    the occurrences after it too (`following`) or all of them (`all`); a move is of one
    occurrence only (`scope=this`). `bookings` lists every booking changed."""
    data = parse(BookingPatch)
    scope = parse_query(Scope).scope
    if data.title is None and data.start is None and data.end is None:
        raise BadRequest("Provide at least one of title, start, end to update")
    if scope != "this" and (data.start is not None or data.end is not None):
        raise BadRequest("Only one occurrence is moved at a time: use scope=this to change start or end",
                         fields={"scope": "must be this to change start or end"})
    if scope == "this":
        changes = in_zone(data.timezone or g.user["timezone"], start=data.start, end=data.end)
        written = booking_write().update(g.user["id"], booking_id, title=data.title, **changes, expect=unchanged)
        changed = [written.for_attendees]
    else:
        scoped = booking_write().rename_series(g.user["id"], booking_id, title=data.title, scope=scope, expect=unchanged)
        written, changed = scoped.written, scoped.for_attendees
    shape = written.for_attendees
    return {"message": "Booking updated successfully", "booking": shape, "bookings": changed}, 200, etag_header(shape)


@bp.delete("/<id:booking_id>")
@describe(body=Reasoned, query=CancelQuery, responses={200: ScopedSaved, 403: Error, 409: Error},
          conditional="write")
@login_required("bookings:write")
@retrying
def cancel_booking(booking_id):
    """Cancel a booking I booked (it stays, with `status: cancelled`); 404 if already cancelled.

    `reason` (in the body or the query) is told to the guest (a seated booking's: every seat's)
    and the attendees, and is in the webhook. A request is declined, not cancelled (409). For
    an occurrence of a series, `scope` cancels the occurrences after it too (`following`) or
    all of them still confirmed (`all`); everyone is told once. `bookings` lists every booking
    cancelled. The event type's notices hold guests only, never me."""
    query = parse_query(CancelQuery)
    scope, reason = query.scope, parse(Reasoned).reason or query.reason
    if scope == "this":
        written = booking_write().cancel(g.user["id"], booking_id, reason=reason, expect=unchanged)
        changed = [written.for_attendees]
    else:
        scoped = booking_write().cancel_series(g.user["id"], booking_id, scope=scope, reason=reason,
                                               expect=unchanged)
        written, changed = scoped.written, scoped.for_attendees
    return {"message": "Booking cancelled successfully", "booking": written.for_attendees, "bookings": changed}


@bp.patch("/<id:booking_id>/attendance")
@describe(body=Attendance, responses={200: BookingSaved, 409: BookingConflict})
@login_required("bookings:write")
@retrying
def answer(booking_id):
    """Accept or decline a booking I am invited to.

    An attendee accepts or declines; accepting is refused (409) if it would double-book them.
    The hosts of a guest booking (a collective team's) attend it and don't answer it (409)."""
    data = parse(Attendance)
    written = booking_write().answer(g.user, booking_id, data.status)
    return {"message": f"Attendance {data.status}", "booking": written.for_attendees}


@bp.post("/<id:booking_id>/confirm")
@describe(responses={200: BookingSaved, 403: Error, 409: Error})
@login_required("bookings:write")
@retrying
def confirm(booking_id):
    """Confirm a guest's request (a booking of a type that requires confirmation) booked with me.

    409 unless it is still pending: declined, expired (also when its `expires_at` has passed
    and the worker has yet to mark it), or confirmed already. Of a confirm and a decline (or
    the expiry) at once, exactly one wins. The guest gets the confirmation with the invitation;
    reminders and calendar copies start now. Webhook `booking.confirmed`."""
    written = booking_write().answer_request(g.user["id"], booking_id, "confirmed")
    return {"message": "Booking confirmed", "booking": written.for_attendees}


@bp.post("/<id:booking_id>/decline")
@describe(body=Reasoned, responses={200: BookingSaved, 403: Error, 409: Error})
@login_required("bookings:write")
@retrying
def decline(booking_id):
    """Decline a guest's request booked with me, freeing its time; 409 unless it is still pending.

    The guest is told, with `reason` if given (no calendar held the request, so there is no
    invitation to cancel). Webhook `booking.declined`."""
    reason = parse(Reasoned).reason
    written = booking_write().answer_request(g.user["id"], booking_id, "declined", reason=reason)
    return {"message": "Request declined", "booking": written.for_attendees}


@bp.post("/<id:booking_id>/no-show")
@describe(body=NoShow, responses={200: BookingSaved, 403: Error, 409: Error})
@login_required("bookings:write")
@retrying
def no_show(booking_id):
    """Mark who did not come to a booking I booked.

    Its guest (`who: guest`; a seated booking's names the seat) or one of its attendees (a user
    id); `no_show: false` undoes it.

    Only once it has started (409 before) and only for a confirmed booking; 400 for `guest` on
    a booking without a guest, or someone it does not have. Shown in the booking's `no_show`
    (a seat's in its seat), in sync, and in the webhook `booking.no_show`."""
    data = parse(NoShow)
    written = booking_write().mark_no_show(g.user["id"], booking_id, who=data.who, seat_id=data.seat_id,
                                           no_show=data.no_show)
    return {"message": "Attendance recorded", "booking": written.for_attendees}
