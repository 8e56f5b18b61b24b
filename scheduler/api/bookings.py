from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, Response, g
from psycopg2.errors import ExclusionViolation
from pydantic import Field, PlainValidator, StringConstraints, WithJsonSchema

from .. import announcements as announce, clock, jobs, synctokens
from ..addresses import identity_key
from ..auth import login_required
from ..announcements import public_booking, with_attendees
from ..calendar import event_data, to_ics
from ..context import redis_client, settings
from ..db import after_commit, retrying, single_statement, transaction
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..idempotency import idempotent
from ..openapi import Error, Shape, describe
from ..pagination import paginated
from ..preconditions import etag_header, require_match, tagged
from ..repositories import bookings, organizations
from ..repositories.locks import lock_people
from ..validation import Body, DateTime, Query, Zone, check_email, check_window, in_zone, parse, parse_query

bp = Blueprint("bookings", __name__)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


def attendee(value):
    """A user id or an e-mail address, with one error message for anything else."""
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
    start: DateTime
    end: DateTime
    timezone: Zone | None = None
    attendees: Annotated[list[Attendee], Field(max_length=50)] = []


class BookingPatch(Body):
    title: Title | None = None
    start: DateTime | None = None
    end: DateTime | None = None
    timezone: Zone | None = None


class Attendance(Body):
    status: Literal["accepted", "declined"]


class ListQuery(Query):
    start: DateTime | None = Field(default=None, alias="from")
    end: DateTime | None = Field(default=None, alias="to")
    status: Literal["confirmed", "cancelled"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None
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


class BookingConflict(Error):
    conflicts: list[Commitment] = Field(default_factory=list,
                                        description="When the time is taken: who is busy, and when.")


class SyncQuery(Query):
    token: str | None = Field(default=None, description="`next_token` from the last sync; none for a full sync.")
    limit: int = Field(default=50, ge=1, le=200)


class SyncPage(Shape):
    bookings: list[Booking]
    next_token: str = Field(description="For the next page (when `more`) or the next sync.")
    more: bool = Field(description="More changes wait: call again at once with `next_token`.")


def check_times(start, end, *, check_start=True):
    if end <= start:
        raise BadRequest("End time must be after start time", fields={"end": "must be after start"})
    if check_start and start < clock.now():
        raise BadRequest("Start time cannot be in the past", fields={"start": "must be in the future"})


def invitees(cur, requested):
    """Resolves requested attendees (ids or e-mails) among people sharing an organisation with me."""
    ids = {a for a in requested if isinstance(a, int)} - {g.user["id"]}
    by_key = {identity_key(a): a for a in requested if isinstance(a, str)}
    by_key.pop(identity_key(g.user["email"]), None)
    found = organizations.colleagues(cur, g.user["id"], ids=ids, keys=by_key)
    unknown_keys = by_key.keys() - {u["email_key"] for u in found}
    unknown = sorted(map(str, (ids - {u["id"] for u in found}) | {by_key[key] for key in unknown_keys}))
    if unknown:
        raise BadRequest("Attendees must be people who share an organization with you",
                         fields={"attendees": f"not found among your organizations: {', '.join(unknown)}"})
    return sorted(u["id"] for u in found)


def busy_conflict(people, start, end, excluding=None):
    """The 409 for a refused write: which of the people are busy, and when."""
    with single_statement() as cur:
        busy = bookings.commitments(cur, people, start, end, excluding=excluding)
    return Conflict("Booking overlaps another confirmed booking", conflicts=[
        {"user_id": b["user_id"], "name": b["name"], "email": b["email"],
         "start_time": b["start_time"], "end_time": b["end_time"]} for b in busy])


def owned(cur, booking_id):
    """The booking, locked for change; 404 unless I attend it, 403 unless I booked it."""
    booking = bookings.find_visible(cur, booking_id, g.user["id"], lock=True)
    if booking is None:
        raise NotFound("Booking not found")
    if booking["user_id"] != g.user["id"]:
        raise Forbidden("Only the booker can change or cancel this booking")
    return booking


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
    check_times(times["start"], times["end"])
    people = [g.user["id"]]
    try:
        with transaction() as cur:
            people += invitees(cur, data.attendees) if data.attendees else []
            booking, recipients = bookings.create(cur, owner_id=g.user["id"], title=data.title,
                                                  invitee_ids=people[1:], **times)
            queued = announce.booking_created(cur, booking, recipients)
    except ExclusionViolation:
        raise busy_conflict(people, times["start"], times["end"]) from None
    after_commit(jobs.dispatch, redis_client(), queued)
    return {"message": "Booking created successfully", "booking": with_attendees(booking, recipients)}, 201


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
    people, start, end = [g.user["id"]], None, None
    try:
        with transaction() as cur:
            current = owned(cur, booking_id)
            require_match(public_booking(current))
            if current["status"] != "confirmed":
                raise Conflict("A cancelled booking cannot be changed")
            people = [a["user_id"] for a in current["attendees"] if a["status"] != "declined"]
            lock_people(cur, people)
            start = changes["start"] or current["start_time"]
            end = changes["end"] or current["end_time"]
            check_times(start, end, check_start=start != current["start_time"])
            booking = bookings.update(cur, booking_id, title=data.title or current["title"], start=start, end=end)
            recipients = bookings.recipients(cur, booking_id)
            moved = (start, end) != (current["start_time"], current["end_time"])
            queued = announce.booking_updated(cur, booking, recipients, moved=moved)
    except ExclusionViolation:
        raise busy_conflict(people, start, end, excluding=booking_id) from None
    after_commit(jobs.dispatch, redis_client(), queued)
    shape = with_attendees(booking, recipients)
    return {"message": "Booking updated successfully", "booking": shape}, 200, etag_header(shape)


@bp.delete("/<id:booking_id>")
@describe(responses={200: BookingSaved, 403: Error}, conditional="write")
@login_required
@retrying
def cancel_booking(booking_id):
    """Cancel a booking I booked (it stays, with `status: cancelled`); 404 if already cancelled."""
    with transaction() as cur:
        current = owned(cur, booking_id)
        require_match(public_booking(current))
        lock_people(cur, [a["user_id"] for a in current["attendees"]])
        booking = bookings.cancel(cur, booking_id, g.user["id"])
        if booking is None:
            raise NotFound("Booking not found or already cancelled")
        recipients = bookings.recipients(cur, booking_id)
        queued = announce.booking_cancelled(cur, booking, recipients)
    after_commit(jobs.dispatch, redis_client(), queued)
    return {"message": "Booking cancelled successfully", "booking": with_attendees(booking, recipients)}


@bp.patch("/<id:booking_id>/attendance")
@describe(body=Attendance, responses={200: BookingSaved, 409: BookingConflict})
@login_required
@retrying
def answer(booking_id):
    """Accept or decline a booking I am invited to.

    An attendee accepts or declines; accepting is refused (409) if it would double-book them."""
    data = parse(Attendance)
    me = g.user["id"]
    try:
        with transaction() as cur:
            booking = bookings.find_visible(cur, booking_id, me, lock=True)
            if booking is None:
                raise NotFound("Booking not found")
            if booking["user_id"] == me:
                raise BadRequest("The booker always attends their own booking")
            if booking["status"] != "confirmed":
                raise Conflict("The booking is cancelled")
            lock_people(cur, [me])
            booking = bookings.set_attendance(cur, booking_id, me, data.status)
            recipients = bookings.recipients(cur, booking_id)
            queued = announce.attendance_answered(cur, booking, recipients, g.user, data.status)
    except ExclusionViolation:
        raise busy_conflict([me], booking["start_time"], booking["end_time"], excluding=booking_id) from None
    after_commit(jobs.dispatch, redis_client(), queued)
    return {"message": f"Attendance {data.status}", "booking": with_attendees(booking, recipients)}
