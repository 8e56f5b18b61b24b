"""Booking links, reached without a token: an event type's public face, its free slots, and
booking one as a guest; a person's (/<username>/<slug>) and a team's (/teams/<org slug>/<slug>)
alike. What strangers are shown, and the rules, are booking_links'; the write is booking_write's."""

from typing import Literal

from flask import Blueprint, request
from pydantic import Field

from .. import languages, links
from ..auth import limit_public_posts, limit_public_reads
from ..booking_links import link_target, public_face, slots_of, team_target
from ..context import booking_write, single_statement, site, transaction
from ..db import retrying
from ..idempotency import guest_scope, idempotent
from ..openapi import Error, RateLimited, Shape, describe
from ..public_shapes import Assignment, GuestView, OccurrenceConflict, OnConflict, Person, Policy, SeriesShown
from ..recurrence import Recurrence
from ..validation import Body, DateTime, Email, Language, Name, Paragraphs, Zone, in_zone, parse
from ..windows import Slots, SlotsQuery, slots_window

bp = Blueprint("public", __name__)

Notes = Paragraphs(1000)


class GuestBookingIn(Body):
    start: DateTime
    name: Name
    email: Email
    timezone: Zone | None = None
    language: Language | None = Field(default=None, description=(
        "The guest's language, kept with the booking for their emails and manage page; else the request's "
        "Accept-Language, else English."))
    notes: Notes | None = None
    recurrence: Recurrence | None = Field(default=None, description=(
        "Book a series (if the type's `max_occurrences` allows that many), `start` being the first; expanded in "
        "the host's zone."))
    on_conflict: OnConflict = "fail"


class EventInfo(Shape):
    title: str
    description: str | None
    location: str | None
    duration: int = Field(description="Minutes.")
    max_occurrences: int = Field(description="How many occurrences a guest may book as one series (1: none).")
    policy: Policy
    host: Person


class TeamInfo(Shape):
    title: str
    description: str | None
    location: str | None
    duration: int = Field(description="Minutes.")
    max_occurrences: int = Field(description="How many occurrences a guest may book as one series (1: none).")
    policy: Policy
    kind: Literal["round_robin", "collective"]
    team: Person
    hosts: list[Person]


class GuestBooked(Shape):
    message: str
    booking: GuestView
    manage_token: str = Field(description="The guest's credential for /guest-bookings/<token>; shown once.")
    manage_url: str = Field(description="The manage page for people.")


class TeamBooked(GuestBooked):
    assignment: Assignment | None = Field(description="Round robin: who took the booking and why; else null.")


class GuestOccurrence(GuestView):
    manage_token: str = Field(description="This occurrence's own manage token; shown once.")
    manage_url: str


class GuestSeriesBooked(Shape):
    message: str
    series: SeriesShown
    bookings: list[GuestOccurrence] = Field(description="Every occurrence booked, by occurrence.")
    skipped: list[OccurrenceConflict] = Field(description="With `on_conflict: skip`: the occurrences not booked.")
    manage_token: str = Field(description="The first occurrence's manage token (each has its own).")
    manage_url: str
    assignment: Assignment | None = Field(description="A round-robin team's: who took the series and why; else null.")


class SeriesConflict(Error):
    conflicts: list[OccurrenceConflict] = Field(default_factory=list, description=(
        "A series: each occurrence refused, and why."))


@bp.get("/<username>/<slug>")
@describe(responses={200: EventInfo, 429: RateLimited})
def event_info(username, slug):
    """What a booking link offers: the event type and its host's name.

    Unknown user, unknown slug and inactive type are the same 404. Rate limited per client
    address."""
    return link_face(lambda cur: link_target(cur, username, slug))


@bp.get("/<username>/<slug>/slots")
@describe(query=SlotsQuery, responses={200: Slots, 429: RateLimited})
def event_slots(username, slug):
    """The start times a booking link offers in a window (default the next 7 days, at most 62).

    Times are written in `timezone` (default UTC); `from` and `to` without an offset are read
    in it. A start is offered when it lies in the hours of the type's schedule (a date's
    override instead of its weekday's hours), every `step` minutes from the start of each
    working interval in the schedule's zone, with the whole booking inside; when the booking
    with its buffers touches none of the host's commitments or their buffers and none of their
    time off; when it is at least `minimum_notice` minutes and at most `booking_window` days
    ahead; and when its host-local day and ISO week have not reached `daily_limit` and
    `weekly_limit`. `days` lists each local date in `timezone` without slots and why:
    `no_working_hours`, `closed`, `time_off`, `too_soon`, `too_far_ahead`, `fully_booked` or
    `no_free_time`. Rate limited per client address."""
    return link_slots(lambda cur: link_target(cur, username, slug))


@bp.post("/<username>/<slug>/bookings")
@describe(body=GuestBookingIn, responses={201: GuestBooked | GuestSeriesBooked, 409: SeriesConflict,
                                          429: RateLimited})
@retrying
@idempotent(guest_scope)
def book(username, slug):
    """Book an offered start as a guest (no account).

    Every rule of the slot list is checked again when writing: a start that is not offered
    is 400 with the reason in `fields.start`; one taken meanwhile (or whose day filled up) is
    409. `start` without an offset is read in `timezone` (default UTC), which the guest's
    emails also use. The guest gets a confirmation with the invitation and the manage link;
    the host a notification and an email. Rate limited per client address.

    With `recurrence` (a type whose `max_occurrences` allows it), every occurrence is checked
    so, limits counting the series' own: 409 lists each refused (`conflicts`) and nothing is
    written, or with `on_conflict: skip` the others are booked. Each occurrence has its own
    manage token."""
    return book_as_guest(lambda cur: link_target(cur, username, slug)), 201


@bp.get("/teams/<org_slug>/<slug>")
@describe(responses={200: TeamInfo, 429: RateLimited})
def team_info(org_slug, slug):
    """What a team's booking link offers.

    The event type, the team's name, its kind and its hosts' names (nothing else of them).

    Unknown team, unknown slug, inactive type and a type none of whose hosts is still a member
    are the same 404. Rate limited per client address."""
    return link_face(lambda cur: team_target(cur, org_slug, slug))


@bp.get("/teams/<org_slug>/<slug>/slots")
@describe(query=SlotsQuery, responses={200: Slots, 429: RateLimited})
def team_slots(org_slug, slug):
    """The start times a team's booking link offers in a window.

    As a person's link offers them, for each host under their own default schedule, time off, calendars, bookings and
    the type's limits (counted per host): round robin offers a start when at least one host
    could take it; collective when every host could. `days` gives a reason the hosts agree on,
    else `no_free_time`. Rate limited per client address."""
    return link_slots(lambda cur: team_target(cur, org_slug, slug))


@bp.post("/teams/<org_slug>/<slug>/bookings")
@describe(body=GuestBookingIn, responses={201: TeamBooked | GuestSeriesBooked, 409: SeriesConflict,
                                          429: RateLimited})
@retrying
@idempotent(guest_scope)
def book_team(org_slug, slug):
    """Book an offered start of a team as a guest.

    Checked as a person's link is, for each host. Round robin: inside the write, holding every
    host's lock, the hosts free at that start are found (none: 409) and one is chosen: the
    fewest bookings of this type in their own ISO week of the start (divided by their weight),
    then who was assigned one least recently, then the lowest id; `assignment` says who and
    which rule decided. Collective: every host must be free (else 409) and all attend. The
    guest and the host(s) who take it get the emails and invitations; the other hosts hear
    nothing. Rate limited per client address. A series (`recurrence`) goes to one round-robin
    host: among those who can take the most of its occurrences, chosen as above."""
    return book_as_guest(lambda cur: team_target(cur, org_slug, slug), assigns=True), 201


# A person's link and a team's are answered alike; `find_link(cur)` is the one or the other.

def link_face(find_link):
    limit_public_reads()
    with single_statement() as cur:
        return public_face(find_link(cur))


def link_slots(find_link):
    limit_public_reads()
    window = slots_window()
    with transaction() as cur:
        return slots_of(cur, find_link(cur), *window)


def book_as_guest(find_link, *, assigns=False):
    """The answer to a guest's booking; a team's (`assigns`) and any series' say who took it
    (for round robin)."""
    limit_public_posts()
    data = parse(GuestBookingIn)
    zone_name = data.timezone or "UTC"
    language = data.language or languages.best_of(request.accept_languages.values()) or languages.DEFAULT
    guest = {"start": in_zone(zone_name, start=data.start)["start"], "name": data.name, "email": data.email,
             "zone_name": zone_name, "language": language, "notes": data.notes}
    if data.recurrence is None:
        written = booking_write().book_link(find_link, **guest)
        message = "Request sent: the host will confirm it" if written.booking["status"] == "pending" else \
            "Booking confirmed"
        return {"message": message, "booking": written.seen_by_guest, **managed(written.manage_token)} \
            | ({"assignment": written.assignment} if assigns else {})
    written = booking_write().book_series(find_link, recurrence=data.recurrence, on_conflict=data.on_conflict, **guest)
    return {"message": "Series booked", "series": written.shown,
            "bookings": [view | managed(token) for view, token in zip(written.seen_by_guest, written.manage_tokens)],
            "skipped": written.skipped, **managed(written.manage_tokens[0]), "assignment": written.assignment}


def managed(token):
    return {"manage_token": token, "manage_url": links.manage_url(site(), token)}
