"""The one booking write: every change to someone's calendar goes through `BookingWrite`.

Each operation runs as one transaction: it reads (and row-locks) what it changes, takes the
people's locks in the one order (repositories/locks.py), checks the rules under them, writes,
collects the recipients and builds the event's messages; `run` then writes those messages,
arranges their dispatch after the commit (announcements.send), and turns the overlap
constraint's refusal into the API's 409. Handlers parse, call one operation, and shape the
answer from the `Written` it returns.
"""

from dataclasses import dataclass, field

from psycopg2.errors import ExclusionViolation

from . import announcements as announce, clock, links
from .booking_links import by_token, changeable, check_start, guest_view, held, link_of, taken
from .email_addresses import identity_key
from .errors import BadRequest, Conflict, Forbidden, NotFound
from .keys import token_hash
from .repositories import bookings, event_types, organizations, person_time
from .repositories.locks import lock_people


@dataclass
class Written:
    """What a write left: the booking as stored, its recipients (attendees with their
    addresses, zones and answers), and for a guest booking its host's name, its manage token
    and, through a round-robin link, which host took it and why."""

    booking: dict
    recipients: list
    messages: announce.Messages = field(repr=False)
    host_name: str | None = None
    manage_token: str | None = None
    assignment: dict | None = None

    @property
    def for_attendees(self):
        """The booking as the API shows it to its attendees."""
        return announce.with_attendees(self.booking, self.recipients)

    @property
    def seen_by_guest(self):
        """A guest booking as its guest sees it."""
        return guest_view(self.booking, self.host_name,
                          [{"name": p["name"]} for p in self.recipients if p["status"] != "declined"])


@dataclass
class Attempt:
    """Who and when a write is about, as far as it got: the 409 for an overlap names them."""

    people: list = field(default_factory=list)
    start: object = None
    end: object = None
    excluding: int | None = None


def check_times(start, end, *, check_start=True):
    if end <= start:
        raise BadRequest("End time must be after start time", fields={"end": "must be after start"})
    if check_start and start < clock.now():
        raise BadRequest("Start time cannot be in the past", fields={"start": "must be in the future"})


def guest_taken(attempt):
    """A guest's start was taken meanwhile: which booking took it is none of their business."""
    return taken()


class BookingWrite:
    """The booking operations over one runtime."""

    def __init__(self, rt):
        self.rt = rt
        self.origin = announce.Origin(rt.settings)

    def run(self, change, *, refused):
        """Runs `change(cur, attempt)` in one transaction and sends the messages it returns with
        its `Written`; an overlap becomes `refused(attempt)`."""
        attempt = Attempt()
        try:
            with self.rt.db.transaction() as cur:
                written = change(cur, attempt)
                announce.send(self.rt, cur, written.messages)
        except ExclusionViolation:
            raise refused(attempt) from None
        return written

    def busy(self, attempt):
        """The 409 for a refused own write: which of the people are busy, and when."""
        with self.rt.db.single_statement() as cur:
            busy = bookings.commitments(cur, attempt.people, attempt.start, attempt.end, excluding=attempt.excluding)
        return Conflict("Booking overlaps another confirmed booking", conflicts=[
            {"user_id": b["user_id"], "name": b["name"], "email": b["email"],
             "start_time": b["start_time"], "end_time": b["end_time"]} for b in busy])

    def create(self, owner, *, title, start, end, attendees=()):
        """Books time for `owner` with `attendees` (ids or e-mails of people who share an
        organisation with them); the insert takes everyone's lock itself."""
        check_times(start, end)

        def change(cur, attempt):
            attempt.people, attempt.start, attempt.end = [owner["id"]], start, end
            if attendees:
                attempt.people += invitees(cur, owner, attendees)
                lock_people(cur, attempt.people)
                check_available(cur, attempt.people[1:], start, end)
            booking, recipients = bookings.create(cur, owner_id=owner["id"], title=title,
                                                  invitee_ids=attempt.people[1:], start=start, end=end)
            return Written(booking, recipients, announce.booking_created(self.origin, booking, recipients))
        return self.run(change, refused=self.busy)

    def update(self, owner_id, booking_id, *, title=None, start=None, end=None, expect=None):
        """Renames or moves a booking `owner_id` booked; `expect(current)` checks the stored
        booking (a precondition) under its row lock."""
        def change(cur, attempt):
            current = owned(cur, booking_id, owner_id, expect)
            if current["status"] != "confirmed":
                raise Conflict("A cancelled booking cannot be changed")
            attempt.people = [a["user_id"] for a in current["attendees"] if a["status"] != "declined"]
            attempt.start, attempt.end = start or current["start_time"], end or current["end_time"]
            attempt.excluding = booking_id
            lock_people(cur, attempt.people)
            check_times(attempt.start, attempt.end, check_start=attempt.start != current["start_time"])
            if (attempt.start, attempt.end) != (current["start_time"], current["end_time"]):
                check_available(cur, [p for p in attempt.people if p != owner_id], attempt.start, attempt.end)
            booking = bookings.update(cur, booking_id, title=title or current["title"], start=attempt.start,
                                      end=attempt.end)
            recipients = bookings.recipients(cur, booking_id)
            moved = (attempt.start, attempt.end) != (current["start_time"], current["end_time"])
            return Written(booking, recipients,
                           announce.booking_updated(self.origin, booking, recipients, moved=moved))
        return self.run(change, refused=self.busy)

    def cancel(self, owner_id, booking_id, *, expect=None):
        """Cancels a booking `owner_id` booked (it stays, cancelled); 404 if it already is."""
        def change(cur, attempt):
            current = owned(cur, booking_id, owner_id, expect)
            lock_people(cur, [a["user_id"] for a in current["attendees"]])
            booking = bookings.cancel(cur, booking_id, owner_id)
            if booking is None:
                raise NotFound("Booking not found or already cancelled")
            recipients = bookings.recipients(cur, booking_id)
            return Written(booking, recipients, announce.booking_cancelled(self.origin, booking, recipients))
        return self.run(change, refused=self.busy)

    def answer(self, person, booking_id, status):
        """`person` accepts or declines a booking they are invited to."""
        def change(cur, attempt):
            current = bookings.find_visible(cur, booking_id, person["id"], lock=True)
            if current is None:
                raise NotFound("Booking not found")
            if current["user_id"] == person["id"]:
                raise BadRequest("The booker always attends their own booking")
            if current["guest"]:
                # A collective team's hosts attend by offering the type: stepping out alone would
                # leave the guest expecting them.
                raise Conflict("The hosts of a guest booking attend it; its organiser can move or cancel it")
            if current["status"] != "confirmed":
                raise Conflict("The booking is cancelled")
            attempt.people, attempt.excluding = [person["id"]], booking_id
            attempt.start, attempt.end = current["start_time"], current["end_time"]
            lock_people(cur, attempt.people)
            booking = bookings.set_attendance(cur, booking_id, person["id"], status)
            recipients = bookings.recipients(cur, booking_id)
            return Written(booking, recipients,
                           announce.attendance_answered(self.origin, booking, recipients, person, status))
        return self.run(change, refused=self.busy)

    def book_link(self, find_link, *, start, name, email, zone_name, notes):
        """A guest books `start` through a booking link (`find_link(cur)`: a person's or a
        team's): every rule of the slot list is checked again under the hosts' locks, and a
        round-robin link's host is chosen there. The guest's manage token is made here and only
        its hash is stored."""
        salt = links.new_salt(self.rt.settings.secret_keys)
        token = links.manage_token(self.rt.settings, salt)

        def change(cur, attempt):
            link = find_link(cur)
            event_type = link.event_type
            lock_people(cur, [h.id for h in link.hosts])
            link = held(cur, link)
            hosts, assignment = check_start(cur, link, start)
            booking, recipients = bookings.create(
                cur, owner_id=hosts[0].id, invitee_ids=[h.id for h in hosts[1:]], title=event_type["title"],
                start=start, end=start + link.offer.duration, event_type_id=event_type["id"],
                location=event_type["location"], buffer_before=event_type["buffer_before"],
                buffer_after=event_type["buffer_after"], guest_name=name, guest_email=email,
                guest_timezone=zone_name, guest_notes=notes, guest_token_hash=token_hash(token), guest_token_salt=salt)
            if assignment:
                event_types.assigned(cur, event_type["id"], hosts[0].id)
            return Written(booking, recipients, announce.booking_created(self.origin, booking, recipients),
                           host_name=hosts[0].name, manage_token=token, assignment=assignment)
        return self.run(change, refused=guest_taken)

    def guest_cancel(self, token, *, reason=None):
        """The guest cancels through their manage token; 409 once cancelled or started."""
        def change(cur, attempt):
            current = by_token(cur, token, lock=True)
            changeable(current)
            lock_people(cur, current["people"])
            booking = bookings.cancel(cur, current["id"], current["user_id"])
            recipients = bookings.recipients(cur, booking["id"])
            return Written(booking, recipients, announce.guest_cancelled(self.origin, booking, recipients, reason),
                           host_name=current["host_name"])
        return self.run(change, refused=guest_taken)

    def guest_move(self, token, *, start_in):
        """The guest moves their booking to another offered start, under the rules of the link
        it was booked through. A round-robin booking keeps its host if they are free then, and
        is otherwise handed to the host the link would choose. `start_in(zone_name)` is the new
        start in UTC, given the guest's zone (for a start written without an offset)."""
        def change(cur, attempt):
            current = by_token(cur, token, lock=True)
            changeable(current)
            link = link_of(cur, current)
            start = start_in(current["guest"]["timezone"])
            end = start + link.offer.duration
            lock_people(cur, [*current["people"], *(h.id for h in link.hosts)])
            link = held(cur, link)
            hosts, assignment = check_start(cur, link, start, excluding=current["id"], keep=current["user_id"])
            host = hosts[0]
            if link.every or host.id == current["user_id"]:
                booking = bookings.update(cur, current["id"], title=current["title"], start=start, end=end)
                recipients = bookings.recipients(cur, booking["id"])
                return Written(booking, recipients, announce.guest_moved(self.origin, booking, recipients),
                               host_name=current["host_name"], assignment=assignment)
            [previous] = bookings.recipients(cur, current["id"])
            booking = bookings.reassign(cur, current["id"], current["user_id"], host.id, start=start, end=end)
            event_types.assigned(cur, link.event_type["id"], host.id)
            recipients = bookings.recipients(cur, booking["id"])
            return Written(booking, recipients,
                           announce.guest_handed_over(self.origin, booking, recipients, previous),
                           host_name=host.name, assignment=assignment)
        return self.run(change, refused=guest_taken)


def owned(cur, booking_id, owner_id, expect=None):
    """The booking, locked for change; 404 unless the person attends it, 403 unless they booked
    it; then `expect(booking)`, if given."""
    booking = bookings.find_visible(cur, booking_id, owner_id, lock=True)
    if booking is None:
        raise NotFound("Booking not found")
    if booking["user_id"] != owner_id:
        raise Forbidden("Only the booker can change or cancel this booking")
    if expect:
        expect(booking)
    return booking


def check_available(cur, invited, start, end):
    """409 if one of the people invited is away (or otherwise unavailable) then: their own
    bookings are the exclusion constraint's to refuse, and why they are away is theirs."""
    away = person_time.unavailable(cur, invited, start, end) if invited else []
    if away:
        unique = {row["user_id"]: row for row in away}.values()
        raise Conflict("Some attendees are not available then", conflicts=[
            {"user_id": row["user_id"], "name": row["name"], "email": row["email"],
             "reason": "away" if row["source"] == "time_off" else "busy"} for row in unique])


def invitees(cur, owner, requested):
    """Resolves requested attendees (ids or e-mails) among people sharing an organisation with
    the owner; 400 naming those who don't."""
    ids = {a for a in requested if isinstance(a, int)} - {owner["id"]}
    by_key = {identity_key(a): a for a in requested if isinstance(a, str)}
    by_key.pop(identity_key(owner["email"]), None)
    found = organizations.colleagues(cur, owner["id"], ids=ids, keys=by_key)
    unknown_keys = by_key.keys() - {u["email_key"] for u in found}
    unknown = sorted(map(str, (ids - {u["id"] for u in found}) | {by_key[key] for key in unknown_keys}))
    if unknown:
        raise BadRequest("Attendees must be people who share an organization with you",
                         fields={"attendees": f"not found among your organizations: {', '.join(unknown)}"})
    return sorted(u["id"] for u in found)
