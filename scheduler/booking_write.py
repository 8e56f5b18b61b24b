"""The one booking write: every change to someone's calendar goes through `BookingWrite`.

Each operation runs as one transaction: it reads (and row-locks) what it changes, takes the
people's locks in the one order (repositories/locks.py), checks the rules under them, writes,
collects the recipients and builds the event's messages; `run` then writes those messages,
arranges their dispatch after the commit (announcements.send), and turns the overlap
constraint's refusal into the API's 409. Handlers parse, call one operation, and shape the
answer from the `Written` it returns.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from psycopg2.errors import ExclusionViolation

from . import announcements as announce, clock, links
from .booking_links import (by_token, changeable, check_start, check_starts, guest_view, held, link_of, refused,
                            taken, until)
from .db import run_again
from .email_addresses import identity_key
from .errors import BadRequest, Conflict, Forbidden, NotFound
from .keys import token_hash
from .recurrence import occurrences as expand
from .repositories import bookings, event_types, organizations, person_time, seats as seat_rows, series as series_rows
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
        return guest_view(self.booking, self.host_name, hosts_of(self.recipients))


@dataclass
class SeriesWritten:
    """What a series write left: the series, its occurrences written (bookings, by occurrence),
    the ones it skipped ([conflict]), their recipients (the same people for each), and for a
    guest's series the host's name, each occurrence's manage token and the assignment."""

    series: dict
    bookings: list
    skipped: list
    recipients: list
    messages: announce.Messages = field(repr=False)
    host_name: str | None = None
    manage_tokens: list = field(default_factory=list)
    assignment: dict | None = None

    @property
    def shown(self):
        return {"id": self.series["id"], "recurrence": self.series["recurrence"], "count": len(self.bookings)}

    @property
    def for_attendees(self):
        return [announce.with_attendees(b, self.recipients) for b in self.bookings]

    @property
    def seen_by_guest(self):
        return [guest_view(b, self.host_name, hosts_of(self.recipients)) for b in self.bookings]


@dataclass
class Scoped:
    """What a write to several occurrences of a series left: the booking it was asked about
    (as `Written`) and every booking it changed, with their recipients ([(booking, recipients)])."""

    written: Written
    changed: list

    @property
    def messages(self):
        return self.written.messages

    @property
    def for_attendees(self):
        return [announce.with_attendees(b, people) for b, people in self.changed]

    @property
    def seen_by_guest(self):
        return [guest_view(b, self.written.host_name, hosts_of(people)) for b, people in self.changed]


@dataclass
class Swept:
    """What a sweep over several bookings left: each with its recipients, and the messages."""

    changed: list
    messages: announce.Messages = field(repr=False)


def hosts_of(recipients):
    """The hosts a guest is shown: those attending, by name."""
    return [{"name": p["name"]} for p in recipients if p["status"] != "declined"]


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

    def create_series(self, owner, *, title, start, end, zone_name, recurrence, on_conflict, attendees=()):
        """Books every occurrence of `recurrence` (expanded in `zone_name` from [start, end)) for
        `owner` with `attendees`, in one transaction: an occurrence is refused if it would meet a
        booking of anyone's, or an attendee's time off or calendars. Any refused: 409 listing each
        (nothing written), or with `on_conflict` "skip" the others are written (409 if none is)."""
        check_times(start, end)
        occurrences = expand(recurrence, start, end, zone_name)
        check_apart(occurrences)

        def change(cur, attempt):
            attempt.people = [owner["id"], *(invitees(cur, owner, attendees) if attendees else [])]
            attempt.start, attempt.end = occurrences[0].start, occurrences[-1].end
            lock_people(cur, attempt.people)
            blocked = person_time.blocked_at(cur, attempt.people, [(o.start, o.end) for o in occurrences])
            clashes = [(index, user_id, "busy" if "booking" in sources or "calendar" in sources else "away")
                       for (index, user_id), sources in sorted(blocked.items())
                       if "booking" in sources or user_id != owner["id"]]
            free, conflicts = split(occurrences, clashes, zone_name, on_conflict)
            series = series_rows.insert(cur, user_id=owner["id"], recurrence=recurrence.stored(), zone_name=zone_name,
                                        starts=[o.start for o in occurrences])
            written, recipients = bookings.create_occurrences(
                cur, owner_id=owner["id"], title=title, series_id=series["id"], occurrences=free,
                invitee_ids=attempt.people[1:])
            told = announce.series_of(self.origin, series,
                                      [b | {"attendees": announce.attendee_list(recipients)} for b in written])
            return SeriesWritten(series, written, conflicts, recipients,
                                 announce.series_created(self.origin, told, written, recipients))
        return self.run(change, refused=self.busy)

    def update(self, owner_id, booking_id, *, title=None, start=None, end=None, expect=None):
        """Renames or moves a booking `owner_id` booked; `expect(current)` checks the stored
        booking (a precondition) under its row lock."""
        def change(cur, attempt):
            current = owned(cur, booking_id, owner_id, expect)
            if current["status"] != "confirmed":
                raise Conflict(unchangeable(current))
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
            return Written(booking, recipients, announce.booking_updated(
                self.origin, booking, recipients, moved=moved, series=self.told_series(cur, booking) if moved else None,
                seats=seats_of(cur, booking)))
        return self.run(change, refused=self.busy)

    def rename_series(self, owner_id, booking_id, *, title, scope, expect=None):
        """Renames the occurrences `scope` names ("following": this one and those after it;
        "all") of the series of a booking `owner_id` booked; still confirmed ones only."""
        def change(cur, attempt):
            current, rows = scoped(cur, booking_id, owner_id, scope, expect)
            if not rows:
                raise Conflict(unchangeable(current))
            changed = with_recipients(cur, bookings.rename_many(cur, [r["id"] for r in rows], title))
            messages = sum((announce.booking_updated(self.origin, b, p, moved=False, seats=seats_of(cur, b))
                            for b, p in changed),
                           announce.Messages())
            return Scoped(Written(*asked_in(changed, booking_id), messages), changed)
        return self.run(change, refused=self.busy)

    def cancel_series(self, owner_id, booking_id, *, scope, reason=None, expect=None):
        """Cancels the occurrences `scope` names ("following": this one and those after it;
        "all") of the series of a booking `owner_id` booked; 404 if none is still confirmed.
        Everyone is told once, with the series as it is left, and `reason`."""
        def change(cur, attempt):
            current, rows = scoped(cur, booking_id, owner_id, scope, expect)
            changed, messages = self.cancel_occurrences(cur, current, rows, reason=reason)
            return Scoped(Written(*asked_in(changed, booking_id, current), messages), changed)
        return self.run(change, refused=self.busy)

    def cancel_occurrences(self, cur, current, rows, **told):
        """Cancels `rows`, occurrences of the series of `current` locked as `scoped` locks them,
        under their people's locks; 404 if none is still confirmed. Returns them cancelled with
        their recipients, and the messages (`told`: by_guest, reason), told once."""
        lock_people(cur, sorted({a["user_id"] for r in rows for a in r["attendees"]}))
        changed = with_recipients(cur, bookings.cancel_many(cur, [r["id"] for r in rows]))
        if not changed:
            raise NotFound("Booking not found or already cancelled")
        series = self.told_series(cur, current, cancelled=occurrences_text(len(changed)),
                                     cancelled_count=len(changed))
        if series is None:
            [(booking, recipients)] = changed
            return changed, announce.booking_cancelled(self.origin, booking, recipients, reason=told.get("reason"),
                                                       seats=seats_of(cur, booking))
        return changed, announce.series_cancelled(self.origin, series, changed, **told)

    def told_series(self, cur, booking, **values):
        """The series of `booking` as its messages tell it (announce.Series), as the change
        being written leaves it; None for a booking in none."""
        if booking["series_id"] is None:
            return None
        series, occurrences = series_rows.calendar_of(cur, [booking])
        return announce.series_of(self.origin, series[booking["series_id"]], occurrences[booking["series_id"]],
                                  **values)

    def cancel(self, owner_id, booking_id, *, reason=None, expect=None):
        """Cancels a booking `owner_id` booked (it stays, cancelled), telling everyone `reason`;
        404 if it already is, 409 for a request (which is declined)."""
        def change(cur, attempt):
            current = owned(cur, booking_id, owner_id, expect)
            if current["status"] == "pending":
                raise Conflict(unchangeable(current))
            lock_people(cur, [a["user_id"] for a in current["attendees"]])
            booking = bookings.cancel(cur, booking_id, owner_id)
            if booking is None:
                raise NotFound("Booking not found or already cancelled")
            recipients = bookings.recipients(cur, booking_id)
            return Written(booking, recipients, announce.booking_cancelled(
                self.origin, booking, recipients, series=self.told_series(cur, booking), reason=reason,
                seats=seats_of(cur, booking)))
        return self.run(change, refused=self.busy)

    def answer_request(self, owner_id, booking_id, status, *, reason=None):
        """The host confirms (`status` "confirmed") or declines ("declined", telling the guest
        `reason`) a request booked with them. Under the request's row lock, so of a confirm, a
        decline and the expiry sweep (bookings.expire_requests) exactly one ends it: 409 for the
        others, and for a request past its time that the sweep has not reached yet."""
        def change(cur, attempt):
            current = owned(cur, booking_id, owner_id)
            if current["status"] != "pending":
                raise Conflict(f"This booking is {current['status']}, not a request waiting for an answer")
            booking = bookings.answer_request(cur, booking_id, status, clock.now())
            if booking is None:
                raise Conflict("This request has expired")
            recipients = bookings.recipients(cur, booking_id)
            messages = (announce.request_confirmed(self.origin, booking, recipients) if status == "confirmed" else
                        announce.request_declined(self.origin, booking, recipients, reason))
            return Written(booking, recipients, messages)
        return self.run(change, refused=self.busy)

    def expire_requests(self, *, limit):
        """The worker's sweep: up to `limit` requests past their time become expired, freeing
        their time, and their guests and hosts are told. Returns how many."""
        def change(cur, attempt):
            changed = with_recipients(cur, bookings.expire_requests(cur, clock.now(), limit=limit))
            return Swept(changed, sum((announce.request_expired(self.origin, b, people) for b, people in changed),
                                      announce.Messages()))
        return len(self.run(change, refused=self.busy).changed)

    def mark_no_show(self, owner_id, booking_id, *, who, seat_id=None, no_show=True):
        """The host records that someone did not come (`no_show`; false undoes it): the guest
        ("guest"; a seated booking's, `seat_id`) or an attendee (a user id). Only once it has
        started, and only for a confirmed booking (409)."""
        def change(cur, attempt):
            current = owned(cur, booking_id, owner_id)
            if current["status"] != "confirmed":
                raise Conflict(f"This booking is {current['status']}: nobody was expected")
            if current["start_time"] > clock.now():
                raise Conflict("This booking has not started yet")
            booking = bookings.mark_no_show(cur, booking_id, **no_show_of(cur, current, who, seat_id, no_show))
            recipients = bookings.recipients(cur, booking_id)
            return Written(booking, recipients, announce.no_show_marked(
                booking, recipients, {"seat_id": seat_id} if current["seats"] and who == "guest" else who, no_show))
        return self.run(change, refused=self.busy)

    def answer(self, person, booking_id, status):
        """`person` accepts or declines a booking they are invited to."""
        def change(cur, attempt):
            current = bookings.find_visible(cur, booking_id, person["id"], lock=True)
            if current is None:
                raise NotFound("Booking not found")
            if current["user_id"] == person["id"]:
                raise BadRequest("The booker always attends their own booking")
            if current["guest"] or current["seats"]:
                # A collective team's hosts attend by offering the type: stepping out alone would
                # leave the guests expecting them.
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

    def book_link(self, find_link, *, start, name, email, zone_name, language, notes):
        """A guest books `start` through a booking link (`find_link(cur)`: a person's or a
        team's): every rule of the slot list is checked again under the hosts' locks, and a
        round-robin link's host is chosen there. A type that requires confirmation makes a
        request (pending, holding the time until it expires); a seated type a seat. The guest's
        manage token is made here and only its hash is stored. The guest's `language` is kept for
        their later emails and manage page."""
        salt = links.new_salt(self.rt.settings.secret_keys)
        token = links.manage_token(self.rt.settings, salt)
        guest = {"name": name, "email": email, "zone_name": zone_name, "language": language, "notes": notes}

        def change(cur, attempt):
            link = find_link(cur)
            event_type = link.event_type
            # A seat joins the booking at its start: that row is locked before the hosts are.
            joining = seat_rows.open_at(cur, event_type["id"], start) if event_type["seats"] else None
            lock_people(cur, [h.id for h in link.hosts])
            link = held(cur, link)
            if event_type["seats"]:
                return self.take_seat(cur, link, start, joining, guest, token, salt)
            hosts, assignment = check_start(cur, link, start)
            request = requested(event_type, start)
            booking, recipients = bookings.create(
                cur, owner_id=hosts[0].id, invitee_ids=[h.id for h in hosts[1:]], title=event_type["title"],
                start=start, end=start + link.offer.duration, guest_token_hash=token_hash(token), guest_token_salt=salt,
                **request, **guest_fields(event_type, **guest))
            if assignment:
                event_types.assigned(cur, event_type["id"], hosts[0].id)
            told = announce.booking_requested if request else announce.booking_created
            return Written(booking, recipients, told(self.origin, booking, recipients),
                           host_name=hosts[0].name, manage_token=token, assignment=assignment)
        return self.run(change, refused=guest_taken)

    def take_seat(self, cur, link, start, booking, guest, token, salt):
        """A guest takes a seat at `start` of a seated type, under the hosts' locks: in the
        booking already there (`booking`, its row locked first, so seats are counted one at a
        time, and the database's count is the last word; 409 once full), else in a new booking,
        checked and assigned as any guest booking is. One made while this waited for the hosts
        makes it run again, to lock that booking's row first."""
        event_type = link.event_type
        first = booking is None
        assignment = None
        if first and seat_rows.open_at(cur, event_type["id"], start, lock=False):
            raise run_again("a seated booking was made at this start meanwhile")
        if first:
            hosts, assignment = check_start(cur, link, start)
            booking, _ = bookings.create(
                cur, owner_id=hosts[0].id, invitee_ids=[h.id for h in hosts[1:]], title=event_type["title"],
                start=start, end=start + link.offer.duration, seats=event_type["seats"], **type_fields(event_type))
            if assignment:
                event_types.assigned(cur, event_type["id"], hosts[0].id)
        else:
            check_joining(link, booking, start)
        seat = seat_rows.add(cur, booking["id"], token_hash=token_hash(token), token_salt=salt, **guest)
        booking = bookings.find_visible(cur, booking["id"], booking["user_id"])
        recipients = bookings.recipients(cur, booking["id"])
        host_name = next(p["name"] for p in recipients if p["user_id"] == booking["user_id"])
        return Written(announce.seat_view(booking, seat), recipients,
                       announce.seat_booked(self.origin, booking, seat, recipients, first=first),
                       host_name=host_name, manage_token=token, assignment=assignment)

    def book_series(self, find_link, *, start, recurrence, on_conflict, name, email, zone_name, language, notes):
        """A guest books a series through a booking link whose type allows it: every occurrence
        is checked as `book_link` checks one start (a limit counting the series' own earlier
        occurrences), under the hosts' locks, and a round-robin link gives the whole series to
        one host. The rule is expanded in the zone of the link's (first) host. Refusals are as
        for `create_series`; each occurrence gets its own manage token."""
        def change(cur, attempt):
            link = find_link(cur)
            event_type = link.event_type
            occurrences = link_series(link, recurrence, start)
            lock_people(cur, [h.id for h in link.hosts])
            link = held(cur, link)
            verdict = check_starts(cur, link, [o.start for o in occurrences])
            free, conflicts = split(occurrences, ranked(verdict.refused), zone_name, on_conflict)
            hosts = verdict.hosts
            series = series_rows.insert(cur, user_id=hosts[0].id, recurrence=recurrence.stored(),
                                        zone_name=link.offer.zone_name, starts=[o.start for o in occurrences])
            salts = [links.new_salt(self.rt.settings.secret_keys) for _ in free]
            tokens = [links.manage_token(self.rt.settings, salt) for salt in salts]
            written, recipients = bookings.create_occurrences(
                cur, owner_id=hosts[0].id, invitee_ids=[h.id for h in hosts[1:]], title=event_type["title"],
                series_id=series["id"], occurrences=free, token_hashes=[token_hash(t) for t in tokens],
                token_salts=salts, **guest_fields(event_type, name=name, email=email, zone_name=zone_name,
                                                  language=language, notes=notes))
            if verdict.assignment:
                event_types.assigned(cur, event_type["id"], hosts[0].id)
            told = announce.series_of(self.origin, series,
                                      [b | {"attendees": announce.attendee_list(recipients)} for b in written])
            return SeriesWritten(series, written, conflicts, recipients,
                                 announce.series_created(self.origin, told, written, recipients),
                                 host_name=hosts[0].name, manage_tokens=tokens, assignment=verdict.assignment)
        return self.run(change, refused=guest_taken)

    def guest_cancel(self, token, *, reason=None):
        """The guest cancels through their manage token (a request: withdraws it; a seat: gives
        it up); 409 once cancelled or started, or within the type's cancel_notice."""
        def change(cur, attempt):
            current = by_token(cur, token, lock=True)
            changeable(current, "cancel")
            lock_people(cur, current["people"])
            if current["seat_id"]:
                return self.give_up_seat(cur, current, reason)
            booking = bookings.cancel(cur, current["id"], current["user_id"])
            recipients = bookings.recipients(cur, booking["id"])
            return Written(booking, recipients, announce.guest_cancelled(
                self.origin, booking, recipients, reason, series=self.told_series(cur, booking),
                withdrawn=current["status"] == "pending"), host_name=current["host_name"])
        return self.run(change, refused=guest_taken)

    def give_up_seat(self, cur, current, reason):
        """A seat's guest gives it up (`current`: the booking as by_token has it through the seat,
        its rows locked); the last seat given up cancels the booking, freeing its hosts' time."""
        seat = seat_rows.cancel(cur, current["seat_id"])
        booking = bookings.find_visible(cur, current["id"], current["user_id"])
        if booking["seats"]["taken"] == 0:
            booking = bookings.cancel(cur, current["id"], current["user_id"])
        recipients = bookings.recipients(cur, current["id"])
        return Written(announce.seat_view(booking, seat) | {"status": "cancelled"}, recipients,
                       announce.seat_cancelled(self.origin, booking, seat, recipients, reason),
                       host_name=current["host_name"])

    def guest_cancel_following(self, token, *, reason=None):
        """The guest cancels an occurrence of a series and the later ones not yet started (a
        booking in no series: it alone), locked as `scoped` locks them. From an occurrence
        cancelled or past, the later ones: a guest who cancelled the one their confirmation
        links to can still cancel the rest. 409 when none is left. Host and guest are told once."""
        with self.rt.db.single_statement() as cur:
            series_id = by_token(cur, token)["series_id"]
        if series_id is None:
            written = self.guest_cancel(token, reason=reason)
            return Scoped(written, [(written.booking, written.recipients)])

        def change(cur, attempt):
            series_rows.lock(cur, series_id)
            current = by_token(cur, token)
            now = clock.now()
            rows = [r for r in series_rows.locked_occurrences(cur, series_id, first=current["occurrence"])
                    if r["status"] == "confirmed" and until(current | {"start_time": r["start_time"]}, "cancel") >= now]
            if not rows:
                raise Conflict("Nothing is left to cancel in this series")
            changed, messages = self.cancel_occurrences(cur, current, rows, by_guest=True, reason=reason)
            return Scoped(Written(*asked_in(changed, current["id"], current), messages,
                                  host_name=current["host_name"]), changed)
        return self.run(change, refused=guest_taken)

    def guest_move(self, token, *, start_in):
        """The guest moves their booking to another offered start, under the rules of the link
        it was booked through. A round-robin booking keeps its host if they are free then, and
        is otherwise handed to the host the link would choose. `start_in(zone_name)` is the new
        start in UTC, given the guest's zone (for a start written without an offset)."""
        def change(cur, attempt):
            current = by_token(cur, token, lock=True)
            changeable(current, "reschedule")
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
                return Written(booking, recipients, announce.guest_moved(
                    self.origin, booking, recipients, series=self.told_series(cur, booking)),
                    host_name=current["host_name"], assignment=assignment)
            if current["series_id"] is not None:
                # A series stays with its host: their calendars hold it as one event.
                raise refused({"busy"})
            [previous] = bookings.recipients(cur, current["id"])
            booking = bookings.reassign(cur, current["id"], current["user_id"], host.id, start=start, end=end)
            event_types.assigned(cur, link.event_type["id"], host.id)
            recipients = bookings.recipients(cur, booking["id"])
            return Written(booking, recipients,
                           announce.guest_handed_over(self.origin, booking, recipients, previous),
                           host_name=host.name, assignment=assignment)
        return self.run(change, refused=guest_taken)


def type_fields(event_type):
    """What a booking through a link takes from its type."""
    return {"event_type_id": event_type["id"], "location": event_type["location"],
            "buffer_before": event_type["buffer_before"], "buffer_after": event_type["buffer_after"]}


def guest_fields(event_type, *, name, email, zone_name, language, notes):
    """What a guest booking takes from its type and its guest."""
    return type_fields(event_type) | {"guest_name": name, "guest_email": email, "guest_timezone": zone_name,
                                      "guest_language": language, "guest_notes": notes}


def requested(event_type, start):
    """How a guest booking of the type is written: a request, if the type requires confirmation,
    that expires `confirmation_hours` from now or at its start, whichever is sooner."""
    if not event_type["requires_confirmation"]:
        return {}
    return {"status": "pending",
            "expires_at": min(clock.now() + timedelta(hours=event_type["confirmation_hours"]), start)}


def check_joining(link, booking, start):
    """A guest may join a seated booking while it has a seat left, its host is still one of the
    link's, and its start is still one the type's rules allow (notice, window, hours)."""
    host = next((h for h in link.hosts if h.id == booking["user_id"]), None)
    if host is None:
        raise taken()
    if booking["seats_taken"] >= booking["seats"]:
        raise Conflict("That time is fully booked", fields={"start": "has no seats left"})
    why = host.offer.rule_broken(start)
    if why:
        raise BadRequest(f"The start time {why[1]}", fields={"start": why[1]})


def link_series(link, recurrence, start):
    """The occurrences a guest asks for through `link`, expanded in its host's zone; 400 unless
    its type allows a series that long."""
    allowed = link.event_type["max_occurrences"]
    if allowed == 1:
        raise BadRequest("This booking link takes single bookings, not series",
                         fields={"recurrence": "is not offered by this booking link"})
    occurrences = expand(recurrence, start, start + link.offer.duration, link.offer.zone_name)
    if len(occurrences) > allowed:
        raise BadRequest(f"This booking link takes series of at most {allowed} occurrences",
                         fields={"recurrence": f"gives {len(occurrences)} occurrences; at most {allowed}"})
    check_apart(occurrences)
    return occurrences


def check_apart(occurrences):
    """400 if a series' occurrences would overlap one another (longer than the rule's gaps)."""
    for one, following in zip(occurrences, occurrences[1:]):
        if one.end > following.start:
            raise BadRequest("The series' occurrences would overlap one another: make the booking shorter than the "
                             "time between them", fields={"recurrence": f"occurrence {one.number} would run into "
                                                                        f"occurrence {following.number}"})


# What a series' conflicts call a refusal, from the reasons check_starts and the write give it.
CONFLICT_REASONS = {"day": "fully_booked", "week": "fully_booked"}
# The one reason shown when a host has several for one occurrence: as `booking_links.refused` ranks them.
REASON_RANK = ("away", "day", "week", "not_offered", "too_soon", "too_far_ahead", "busy")


def split(occurrences, refusals, zone_name, on_conflict):
    """The occurrences free to write and the conflicts of the others, given `refusals`:
    [(index, user id or None, reason)]. Each conflict says which occurrence, when (in
    `zone_name`), why, and whose time it is (for a guest's series, whose is theirs to know
    not). 409 with every conflict unless `on_conflict` is "skip" and some are free."""
    zone = ZoneInfo(zone_name)
    conflicts = []
    for index, user_id, reason in refusals:
        one = occurrences[index]
        conflicts.append({"occurrence": one.number, "start": one.start.astimezone(zone),
                          "end": one.end.astimezone(zone), "reason": CONFLICT_REASONS.get(reason, reason)}
                         | ({"user_id": user_id} if user_id else {}))
    refused_at = {index for index, _, _ in refusals}
    free = [o for index, o in enumerate(occurrences) if index not in refused_at]
    if conflicts and (on_conflict != "skip" or not free):
        raise Conflict("No occurrence of the series is free" if not free else
                       "Some occurrences of the series are not free; nothing was booked", conflicts=conflicts)
    return free, conflicts


def ranked(refused):
    """A guest's series' refusals from check_starts ({index: reasons}) as `split` takes them:
    one reason each, and nobody named."""
    return [(index, None, min(reasons, key=REASON_RANK.index)) for index, reasons in sorted(refused.items())]


def scoped(cur, booking_id, owner_id, scope, expect=None):
    """The booking `owner_id` booked and the still-confirmed occurrences of its series that
    `scope` names ("following": from it on; "all"), locked: the series first, then their rows
    in id order (repositories/series.py), so two such writes queue on the series; `expect` is
    checked against the booking as locked. A booking in no series is its own scope."""
    current = bookings.find_visible(cur, booking_id, owner_id)
    if current is None:
        raise NotFound("Booking not found")
    if current["series_id"] is None:
        current = owned(cur, booking_id, owner_id, expect)
        if current["status"] == "pending":
            raise Conflict(unchangeable(current))
        return current, [current] if current["status"] == "confirmed" else []
    if current["user_id"] != owner_id:
        raise Forbidden("Only the booker can change or cancel this booking")
    series_rows.lock(cur, current["series_id"])
    rows = series_rows.locked_occurrences(cur, current["series_id"],
                                          first=current["occurrence"] if scope == "following" else 1)
    current = next(r for r in rows if r["id"] == booking_id)
    if expect:
        expect(current)
    return current, [r for r in rows if r["status"] == "confirmed"]


def asked_in(changed, booking_id, current=None):
    """The (booking, recipients) a scoped write was asked about, from those it changed (or as
    it was, `current`, when it was not among them: cancelled already)."""
    return next(((b, p) for b, p in changed if b["id"] == booking_id),
                (current, changed[0][1]) if current else changed[0])


def with_recipients(cur, changed):
    """[(booking, its recipients)] for these bookings."""
    people = bookings.recipients_of(cur, [b["id"] for b in changed])
    return [(b, people[b["id"]]) for b in changed]


def occurrences_text(count):
    return f"{count} occurrence{'s' if count != 1 else ''}"


def unchangeable(booking):
    """Why the organiser cannot rename or move a booking that is not confirmed."""
    if booking["status"] == "pending":
        return "A request cannot be changed or cancelled: confirm or decline it"
    return f"A {booking['status']} booking cannot be changed"


def seats_of(cur, booking):
    """A seated booking's seats still taken (as seats.of has them); none for another booking."""
    return seat_rows.of(cur, booking["id"]) if booking["seats"] else []


def no_show_of(cur, booking, who, seat_id, no_show):
    """What bookings.mark_no_show records for `who` of the booking; a seat's guest is recorded
    in their seat here. 400 for someone the booking does not have."""
    if seat_id is not None and (who != "guest" or not booking["seats"]):
        raise BadRequest("Invalid input: seat_id: names a seat's guest of a seated booking, with who: guest",
                         fields={"seat_id": "only with who: guest, on a seated booking"})
    if who != "guest":
        if who not in {a["user_id"] for a in booking["attendees"]}:
            raise BadRequest("Invalid input: who: is not an attendee of this booking",
                             fields={"who": "is not an attendee of this booking"})
        return {"user_id": who, "no_show": no_show}
    if booking["seats"]:
        if seat_id is None or not seat_rows.mark_no_show(cur, booking["id"], seat_id, no_show):
            raise BadRequest("Invalid input: seat_id: name one of this booking's seats still taken",
                             fields={"seat_id": "must be one of this booking's seats still taken"})
        return {}
    if booking["guest"] is None:
        raise BadRequest("Invalid input: who: this booking has no guest", fields={"who": "this booking has no guest"})
    return {"guest": no_show}


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
