"""What a booking link is to strangers, for the API's blueprints and the guest pages alike:
the event type behind a link, its slot list, the check of a start when writing, a guest's
booking found by its token, and what each of these shows. Strangers reach all of it, so what
it shows is the host's name and the type's own fields and nothing else: no e-mail, no other
bookings, no guests.

The rules themselves are `offers.Offer`'s; the write is booking_write's."""

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from . import clock, round_robin
from .availability import intersect, merge
from .calendar import guest_copy, guest_event_data, series_event_data
from .errors import BadRequest, Conflict, NotFound
from .keys import token_hash
from .languages import N_, whole_units
from .offers import Offer, combined, empty_days
from .repositories import bookings, event_types, organizations, person_time, seats, series

# What a username, an organisation's slug or a type's slug can look like; anything else is the
# same 404 without a query.
HANDLE = re.compile(r"^[A-Za-z0-9-]{1,60}$")
# What a manage token can look like (43 URL-safe base64 characters); anything else is a 404 without a query.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Host:
    """Someone a link books: the type's rules over their own schedule."""

    id: int
    name: str
    weight: int
    offer: Offer


@dataclass(frozen=True)
class Link:
    """A booking link: a person's event type (one host) or a team's (`kind` round_robin: one of
    the hosts takes each booking; collective: they all attend). Its hosts are in user id order."""

    event_type: dict
    hosts: tuple
    kind: str

    @property
    def every(self):
        """Whether every host attends each booking (so all must be free)."""
        return self.kind != "round_robin"

    @property
    def offer(self):
        """The rules every host shares (notice, window, buffers, duration, limits)."""
        return self.hosts[0].offer

    @classmethod
    def personal(cls, event_type, now):
        """`event_type` as event_types.find_public has it."""
        return cls(event_type, (Host(event_type["host_id"], event_type["host_name"], 1, Offer.of(event_type, now)),),
                   "personal")

    @classmethod
    def team(cls, event_type, now):
        """`event_type` as event_types.find_team_link has it, with each host's schedule."""
        return cls(event_type, tuple(
            Host(h["user_id"], h["name"], h["weight"], Offer.of(event_type | {
                "working_hours": h["working_hours"], "overrides": h["overrides"], "host_timezone": h["timezone"]}, now))
            for h in event_type["hosts"]), event_type["kind"])


def link_target(cur, username, slug):
    """The link of a person's active event type. Unknown user, unknown slug and inactive type
    are one and the same 404."""
    event_type = event_types.find_public(cur, username, slug) if HANDLE.match(username) and HANDLE.match(slug) else None
    if event_type is None:
        raise NotFound(N_("Booking link not found"))
    return Link.personal(event_type, clock.now())


def team_target(cur, org_slug, slug):
    """The link of a team's active event type; a team without a slug, an unknown slug, an
    inactive type and one without hosts who are still members are one and the same 404."""
    event_type = (event_types.find_team_link(cur, org_slug, slug)
                  if HANDLE.match(org_slug) and HANDLE.match(slug) else None)
    if event_type is None or not event_type["hosts"]:
        raise NotFound(N_("Booking link not found"))
    return Link.team(event_type, clock.now())


def held(cur, link):
    """The link as the write checks it, once the hosts' locks are had: its rules judged by the
    clock then, not when it was read (a wait for the locks could let a start become too soon),
    and a team's hosts only those still members of it, their memberships held until the
    transaction ends (FOR KEY SHARE): one who left since the link was read is not given the
    booking, and one leaving now waits until it is written."""
    hosts = link.hosts
    if link.kind != "personal":
        members = organizations.hold_accepted_members(cur, link.event_type["organization_id"], [h.id for h in hosts])
        hosts = tuple(h for h in hosts if h.id in members)
        if not hosts:
            raise taken()
    now = clock.now()
    return replace(link, hosts=tuple(replace(h, offer=replace(h.offer, now=now)) for h in hosts))


def slots_of(cur, link, start, end, zone_name, *, excluding=None):
    """The slot list of the link over [start, end), written in `zone_name`; `excluding` a
    booking being rescheduled, whose own time and count do not stand in its way. A team's
    start is offered when one of its hosts could take it (round robin) or all of them could."""
    offer, ids = link.offer, [h.id for h in link.hosts]
    blocked = person_time.blocked(cur, ids, *offer.blocked_window(start, end), excluding=excluding)
    counts = type_counts(cur, link, [h.offer.counted_window(start, end) for h in link.hosts],
                         excluding=excluding) if offer.limited else {}
    considered, away = [], []
    for host in link.hosts:
        mine = [row for row in blocked if row["user_id"] == host.id]
        considered.append(host.offer.considered(start, end, [(b["start_time"], b["end_time"]) for b in mine],
                                                counts.get(host.id, {})))
        away.append([(b["start_time"], b["end_time"]) for b in mine if b["source"] == "time_off"])
    zone = ZoneInfo(zone_name)
    offered = combined(considered, every=link.every)
    seats_left = {}
    if link.event_type["seats"]:
        offered, seats_left = with_seats(cur, link, offered, start, end)
    return {"timezone": zone_name, "from": start.astimezone(zone), "to": end.astimezone(zone),
            "slots": [{"start": s.astimezone(zone), "end": (s + offer.duration).astimezone(zone)}
                      | ({"seats_left": seats_left[s]} if seats_left else {})
                      for s, why in offered if why is None],
            "days": empty_days(offered, start, end, zone_name, everyone_away(away, every=link.every))}


def with_seats(cur, link, offered, start, end):
    """A seated type's starts ([(start, why not)]) with the seats left at each offered one: a
    start whose booking has seats left is offered (that booking blocks no one joining it) while
    the type's rules allow it, as the write checks (check_joining); a full one is fully booked."""
    capacity = link.event_type["seats"]
    taken = seats.taken_between(cur, link.event_type["id"], start, end)
    considered, left = [], {}
    for moment, why in offered:
        if moment in taken:
            count, room = taken[moment]
            open_seats = count < room and any(h.offer.rule_broken(moment) is None for h in link.hosts)
            why = None if open_seats else "fully_booked" if count >= room else why
            left[moment] = room - count
        else:
            left[moment] = capacity
        considered.append((moment, why))
    return considered, left


def everyone_away(away, *, every):
    """When the link's hosts are away: any of them, for a link they all attend; all of them
    at once, for one that needs only one."""
    if every:
        return merge([span for spans in away for span in spans])
    common = away[0]
    for spans in away[1:]:
        common = intersect(common, spans)
    return common


def type_counts(cur, link, windows, *, excluding=None):
    """The link's bookings per host and host-local date, over the span of `windows`."""
    return bookings.type_counts(cur, link.event_type["id"], [(h.id, h.offer.zone_name) for h in link.hosts],
                                min(w[0] for w in windows), max(w[1] for w in windows), excluding=excluding)


@dataclass(frozen=True)
class Verdict:
    """Who takes bookings at a link's starts (the owner first), for round robin which rule
    chose them, and which starts they cannot take: {index of the start: reasons}, reasons
    among busy, away, day, week (a limit) and the slot list's too_soon, too_far_ahead and
    not_offered."""

    hosts: list
    assignment: dict | None
    refused: dict


def check_start(cur, link, start, *, excluding=None, keep=None):
    """The write-time check of one start, under the hosts' locks: `check_starts`, and a 409 if
    the start is refused. Returns (hosts, assignment)."""
    verdict = check_starts(cur, link, [start], excluding=excluding, keep=keep)
    if verdict.refused:
        raise refused(verdict.refused[0])
    return verdict.hosts, verdict.assignment


def check_starts(cur, link, starts, *, excluding=None, keep=None):
    """The write-time check of a booking at each of `starts` (one, or a series' occurrences),
    under the hosts' locks: who takes them, and which they cannot. 400 if the first start
    breaks one of the type's rules for every host (any host, for a link they all attend); a
    later start that does, or whose booking with its buffers touches time a host needed is
    unavailable (time off, calendars, bookings) or reaches a limit of the type (counting the
    starts before it), is refused. A link they all attend refuses a start any host can't take;
    round robin gives all the starts to one host among those who can take the most of them:
    `keep` (a host moving their booking) if they are one, else as scheduler/round_robin.py
    chooses."""
    first = starts[0]
    broken = [h.offer.rule_broken(first) for h in link.hosts]
    fits = [h for h, why in zip(link.hosts, broken) if why is None]
    if not fits or (link.every and len(fits) < len(link.hosts)):
        reason = next(why for why in broken if why)[1]
        raise BadRequest(f"The start time {reason}", fields={"start": reason})
    refusals = {h.id: {} for h in fits}
    for index, start in enumerate(starts[1:], 1):
        for host in fits:
            why = host.offer.rule_broken(start)
            if why:
                refusals[host.id][index] = {why[0]}
    blocked = person_time.blocked_at(cur, [h.id for h in fits], [link.offer.blocked_span(s) for s in starts],
                                     excluding=excluding)
    for (index, host_id), sources in blocked.items():
        refusals[host_id].setdefault(index, set()).update("busy" if s == "booking" else "away" for s in sources)
    weighing = not link.every and len(fits) > 1
    counts = {}
    if link.offer.limited or weighing:
        windows = [w for h in fits for w in (h.offer.counted_window(first, starts[-1]),
                                             *([h.offer.week_window(first)] if weighing else []))]
        counts = type_counts(cur, link, windows, excluding=excluding)
    if link.offer.limited:
        for host in fits:
            count_in(host, starts, dict(counts.get(host.id, {})), refusals[host.id])
    if link.every:
        return Verdict(fits, None, joined(refusals.values()))
    fewest = min(len(r) for r in refusals.values())
    able = [h for h in fits if len(refusals[h.id]) == fewest]
    # A start no host can take is refused for the reasons of every host.
    why = {index: reasons for index, reasons in joined(refusals.values()).items()
           if all(index in r for r in refusals.values())} if fewest else {}
    kept = [h for h in able if h.id == keep]
    if kept:
        return Verdict(kept, {"host": {"name": kept[0].name}, "reason": "same_host"}, why)
    last = event_types.last_assigned(cur, link.event_type["id"]) if len(able) > 1 else {}
    host, reason = round_robin.assign(able, {h.id: h.offer.load(first, counts.get(h.id, {})) for h in able}
                                      if len(able) > 1 else {}, last)
    return Verdict([host], {"host": {"name": host.name}, "reason": reason}, refusals[host.id] | why)


def count_in(host, starts, counts, refusals):
    """Refuses each start whose date or week has reached the type's limit for `host`, given
    their bookings of the type per local date (`counts`, which it adds to), counting in each
    start they can take: a series' own occurrences count toward its later ones."""
    for index, start in enumerate(starts):
        if index in refusals:
            continue
        period = host.offer.limit_reached(start, counts)
        if period:
            refusals[index] = {period}
        else:
            day = host.offer.local_date(start)
            counts[day] = counts.get(day, 0) + 1


def joined(refusals):
    """{index: reasons} of several hosts, as one."""
    found = {}
    for host in refusals:
        for index, reasons in host.items():
            found.setdefault(index, set()).update(reasons)
    return found


def refused(why):
    """The 409 for a start no host needed is free at: time off or a calendar's busy time first,
    then a limit, then a booking (which it is, or whose, is none of a guest's business)."""
    if "away" in why:
        return Conflict("That time is not available", fields={"start": "is a time the host is not available"})
    period = "day" if "day" in why else "week" if "week" in why else None
    if period:
        return Conflict(f"That {period} is fully booked", fields={"start": f"falls in a {period} that is fully booked"})
    return taken()


def taken():
    """A guest's start was taken meanwhile."""
    return Conflict("That time is no longer available", fields={"start": "was just taken, pick another time"})


# What a guest is told of a type's rules before booking (public_shapes.Policy).
POLICY = ("requires_confirmation", "seats", "cancel_notice", "reschedule_notice")


def public_face(link):
    """What strangers see of a link: the type's own fields and its hosts' names (a team's also
    its name and kind)."""
    event_type = link.event_type
    face = {"title": event_type["title"], "description": event_type["description"],
            "location": event_type["location"], "duration": event_type["duration"],
            "max_occurrences": event_type["max_occurrences"],
            "policy": {key: event_type[key] for key in POLICY}}
    if link.kind == "personal":
        return face | {"host": {"name": event_type["host_name"]}}
    return face | {"kind": link.kind, "team": {"name": event_type["organization_name"]},
                   "hosts": [{"name": h.name} for h in link.hosts]}


def by_token(cur, token, *, lock=False):
    """The guest booking a manage token reaches, with its host's name; 404 otherwise."""
    booking = bookings.find_by_guest_token(cur, token_hash(token), lock=lock) if TOKEN.match(token) else None
    if booking is None:
        raise NotFound(N_("Booking not found"))
    return booking


def guest_calendar_event(cur, booking, domain, address):
    """The booking as its guest's calendar holds it, as the e-mails invite to it: the booking, or
    for an occurrence of a series the whole series (announcements.Series), so that a calendar
    holding the series from the invitation updates it rather than adding a second event."""
    if booking["series_id"] is None:
        return guest_event_data(booking, booking["host_name"], domain, address)
    found, occurrences = series.calendar_of(cur, [booking])
    event = series_event_data(found[booking["series_id"]], occurrences[booking["series_id"]], domain)
    return guest_copy(event, booking, booking["host_name"], address)


def later_in_series(cur, booking):
    """How many later occurrences of a guest booking's series the guest could still cancel: those
    not yet inside the type's cancel notice."""
    if booking["series_id"] is None:
        return 0
    return series.later(cur, booking, clock.now() + timedelta(minutes=booking["cancel_notice"]))


# Why a guest can no longer cancel or reschedule their booking: the code the manage answer
# gives (`why_not`) and the 409's words.
CLOSED = {
    "cancelled": "This booking is cancelled",
    "declined": "This request was declined",
    "expired": "This request has expired",
    "started": "This booking has already started",
    "pending": "A request cannot be rescheduled before it is confirmed: cancel it and ask for another time",
    "seat": "A seat cannot be moved: cancel it and book another time",
}


def closed(booking, action):
    """Why the guest may not `action` ("cancel" or "reschedule") the booking now, as a CLOSED
    code or "notice" (its type's cancel_notice or reschedule_notice has begun); None if they may.
    A request past its time is expired, whether or not the worker has marked it yet; one still
    waiting can always be withdrawn, as no notice holds what the host has not confirmed."""
    now = clock.now()
    if booking["status"] == "pending" and booking["expires_at"] <= now:
        return "expired"
    if booking["status"] not in ("confirmed", "pending"):
        return booking["status"]
    if booking["start_time"] <= now:
        return "started"
    if booking["status"] == "pending":
        return "pending" if action == "reschedule" else None
    if action == "reschedule" and booking["seat_id"]:
        return "seat"
    return "notice" if now > until(booking, action) else None


def notice_minutes(fields):
    """How long before the start a guest's cancel and reschedule close, from a type's
    cancel_notice and reschedule_notice (or a booking's, as by_token has them): rescheduling
    gives up the time booked, so it closes no later than cancelling does."""
    return {"cancel": fields["cancel_notice"], "reschedule": max(fields["reschedule_notice"], fields["cancel_notice"])}


def until(booking, action):
    """The last moment the type's notices let a guest `action` the booking."""
    return booking["start_time"] - timedelta(minutes=notice_minutes(booking)[action])


def changeable(booking, action):
    """409 unless the guest can still `action` ("cancel" or "reschedule") the booking."""
    why = closed(booking, action)
    if why == "notice":
        notice = duration_text(notice_minutes(booking)[action])
        raise Conflict(f"Guests can {action} this booking until {notice} before it starts; ask the host instead",
                       fields={action: f"closes {notice} before the start"})
    if why:
        raise Conflict(CLOSED[why])


def duration_text(minutes):
    """1440 -> "1 day", 90 -> "90 minutes", 0 -> "0 minutes": in English, for the API's messages."""
    count, unit = whole_units(minutes)
    return f"{count} {unit}{'s' if count != 1 else ''}"


def policy_of(booking):
    """What the manage answer says about changing the booking: whether the guest can cancel or
    reschedule it, why not (a CLOSED code or "notice"), and until when the notices allow each."""
    zone = ZoneInfo(booking["guest"]["timezone"])
    why = {action: closed(booking, action) for action in ("cancel", "reschedule")}
    return {"can_cancel": why["cancel"] is None, "can_reschedule": why["reschedule"] is None,
            "can_change": why["cancel"] is None or why["reschedule"] is None, "why_not": why,
            "cancel_until": until(booking, "cancel").astimezone(zone),
            "reschedule_until": until(booking, "reschedule").astimezone(zone)}


def link_of(cur, booking):
    """The link a booking was made through, if its type is still active: rescheduling follows
    its rules."""
    if booking["team_kind"]:
        event_type = event_types.find_team_type(cur, booking["event_type_id"])
        link = Link.team(event_type, clock.now()) if event_type and event_type["hosts"] else None
    else:
        event_type = event_types.find_with_host(cur, booking["event_type_id"]) if booking["event_type_id"] else None
        link = Link.personal(event_type, clock.now()) if event_type else None
    if link is None or not event_type["active"]:
        raise Conflict("This booking can no longer be rescheduled, only cancelled")
    return link


def booking_page_parts(cur, booking):
    """The path parts of the booking page a guest booking was made through (("book", username,
    slug) or ("book", "team", org slug, slug)), for "book another time"; None once that link no
    longer takes bookings (its type gone or inactive, a team without a slug or hosts)."""
    try:
        link = link_of(cur, booking)
    except Conflict:
        return None
    event_type = link.event_type
    if link.kind == "personal":
        return "book", event_type["username"], event_type["slug"]
    org_slug = organizations.slug_of(cur, event_type["organization_id"])
    return ("book", "team", org_slug, event_type["slug"]) if org_slug else None


def guest_view(booking, host_name, hosts):
    """A guest booking as its guest sees it, in the guest's zone: its host (the organiser) and
    every host attending (`hosts`, [{name}])."""
    zone = ZoneInfo(booking["guest"]["timezone"])
    return {"start": booking["start_time"].astimezone(zone), "end": booking["end_time"].astimezone(zone),
            "timezone": booking["guest"]["timezone"], "language": booking["guest"]["language"],
            "title": booking["title"], "status": booking["status"],
            "location": booking["location"], "host": {"name": host_name}, "hosts": hosts,
            "guest": {"name": booking["guest"]["name"], "email": booking["guest"]["email"]},
            "series_id": booking["series_id"], "occurrence": booking["occurrence"],
            "expires_at": booking["expires_at"] and booking["expires_at"].astimezone(zone)}
