"""iCalendar (RFC 5545) for bookings: email attachments, single downloads and feeds."""

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from .recurrence import rrule_text

PRODID = "-//Scheduler//Scheduler API//EN"
PARTSTAT = {"accepted": "ACCEPTED", "declined": "DECLINED", "needs-action": "NEEDS-ACTION"}
# A booking's status as a calendar's (RFC 5545 STATUS): a request not yet confirmed is tentative
# (in the host's feed), and one that ended unconfirmed is as gone as a cancelled booking.
EVENT_STATUS = {"confirmed": "CONFIRMED", "pending": "TENTATIVE", "cancelled": "CANCELLED", "declined": "CANCELLED",
                "expired": "CANCELLED"}
# The two local parts a booking's UID has had: calendar_uid's 32 hex digits, and the old form.
BOOKING_UID_LOCAL = re.compile(r"[0-9a-f]{32}|booking-[0-9]+", re.IGNORECASE)


def uid_suffix(domain):
    """What ends every UID this service issues (`booking_uid`), and so tells its events from
    others' in the calendars it reads (`issued_here`)."""
    return f"@{domain}"


def booking_uid(booking, domain):
    """The booking's UID in every calendar: random for bookings made since migration 017; the
    older ones keep the form their calendars already hold, or updates would arrive as new events."""
    return (booking["calendar_uid"] or f"booking-{booking['id']}") + uid_suffix(domain)


def issued_here(uid, domain):
    """Whether an event in someone's calendar is one of our bookings (written back by CalDAV, or
    subscribed to through our feed): its UID ends with our suffix (in any case, as calendars may
    fold it) after a local part of a form `booking_uid` makes, so another system's UIDs at the
    same domain are still read."""
    uid = uid.strip()
    suffix = uid_suffix(domain)
    return uid[-len(suffix):].lower() == suffix.lower() and BOOKING_UID_LOCAL.fullmatch(uid[:-len(suffix)]) is not None


def event_data(booking, domain):
    """What a calendar needs of a booking, as JSON-able data (kept in email payloads). The
    organizer is the booker; a guest (no account) is one more attendee. People with an account
    carry their `user_id`, so an email can show them as they are when it is sent (`as_now`)."""
    organizer = next((a for a in booking["attendees"] if a["user_id"] == booking["user_id"]), None)
    attendees = [{"user_id": a["user_id"], "name": a["name"], "email": a["email"], "status": a["status"]}
                 for a in booking["attendees"]]
    if booking.get("guest"):
        attendees.append({"name": booking["guest"]["name"], "email": booking["guest"]["email"], "status": "accepted"})
    return {
        "uid": booking_uid(booking, domain),
        "sequence": booking["sequence"],
        "title": booking["title"],
        "location": booking.get("location"),
        "start": booking["start_time"].isoformat(),
        "end": booking["end_time"].isoformat(),
        "status": EVENT_STATUS[booking["status"]],
        "updated": booking["updated_at"].isoformat(),
        "organizer": {"user_id": organizer["user_id"], "name": organizer["name"], "email": organizer["email"]}
        if organizer else None,
        "attendees": attendees,
    }


def series_event_data(series, occurrences, domain):
    """A series as one calendar event: `event_data`'s shape, plus "series" with the rule (RRULE,
    expanded in the series' zone), an EXDATE for each rule start with no confirmed booking
    (cancelled, or skipped when booked) and an override (RECURRENCE-ID) for each confirmed one
    moved or renamed. `series` is the booking_series row (its `starts` in occurrence order),
    `occurrences` its bookings. The master, whose title, place, duration and people the series
    shows, is the first confirmed occurrence (the first of all when none is). SEQUENCE is the
    sum of the occurrences', so a change to any of them raises the series'."""
    rows = sorted(occurrences, key=lambda row: row["occurrence"])
    confirmed = [row for row in rows if row["status"] == "confirmed"]
    master = (confirmed or rows)[0]
    starts, duration = series["starts"], master["end_time"] - master["start_time"]
    data = event_data(master | {"calendar_uid": series["calendar_uid"], "start_time": starts[0],
                                "end_time": starts[0] + duration}, domain)
    booked = {row["occurrence"] for row in confirmed}

    def as_ruled(row):
        rule_start = starts[row["occurrence"] - 1]
        return ((row["start_time"], row["end_time"], row["title"], row.get("location"))
                == (rule_start, rule_start + duration, master["title"], master.get("location")))

    return data | {
        "sequence": sum(row["sequence"] for row in rows),
        "updated": max(row["updated_at"] for row in rows).isoformat(),
        "series": {
            "timezone": series["timezone"],
            "rrule": rrule_text(series["recurrence"], len(starts)),
            "exdates": [start.isoformat() for number, start in enumerate(starts, 1) if number not in booked],
            "overrides": [{"recurrence_id": starts[row["occurrence"] - 1].isoformat(),
                           "start": row["start_time"].isoformat(), "end": row["end_time"].isoformat(),
                           "title": row["title"], "location": row.get("location"), "sequence": row["sequence"],
                           "updated": row["updated_at"].isoformat()}
                          for row in confirmed if not as_ruled(row)],
        },
    }


def events_of(bookings, series, occurrences, domain):
    """The calendar events of these bookings: each on its own, but the occurrences of a series
    as that series' one event (`series`: {id: row}; `occurrences`: {id: all its bookings}), in
    the place of the first of them."""
    events, told = [], set()
    for booking in bookings:
        series_id = booking.get("series_id")
        if series_id is None:
            events.append(event_data(booking, domain))
        elif series_id not in told:
            told.add(series_id)
            events.append(series_event_data(series[series_id], occurrences[series_id], domain))
    return events


def guest_event_data(booking, host_name, domain, address):
    """The booking as its guest's calendar sees it (`guest_copy`)."""
    return guest_copy(event_data(booking | {"attendees": []}, domain), booking, host_name, address)


def guest_copy(event, booking, host_name, address):
    """An event (a booking's, or its series') as the booking's guest's calendar sees it: the
    same UID and SEQUENCE as the host's copy, the guest the only attendee, and the host named
    as organizer at the service's own address (the host's e-mail is never shown to a guest, so
    only their name is theirs: `name_of`)."""
    guest = booking["guest"]
    return event | {"attendees": [{"name": guest["name"], "email": guest["email"], "status": "accepted"}],
                    "organizer": {"name_of": booking["user_id"], "name": host_name, "email": address}}


def people_in(event):
    """The accounts whose name or address the event data shows."""
    return {person.get("user_id") or person.get("name_of")
            for person in [event["organizer"], *event["attendees"]] if person} - {None}


def as_now(event, people):
    """The event with its people as they are now (`people`: user id -> {"name", "email"}): someone
    with an account under their current name and address, a host shown to a guest under their
    current name only, and as written a guest (whose address never changes), an account that is
    gone, and anyone in data written before people carried their ids. What the event is (times,
    title, status, sequence, who answered what) stays as written."""
    def now(person):
        if person is None:
            return None
        if person.get("user_id") in people:
            return person | people[person["user_id"]]
        if person.get("name_of") in people:
            return person | {"name": people[person["name_of"]]["name"]}
        return person
    return event | {"organizer": now(event["organizer"]), "attendees": [now(p) for p in event["attendees"]]}


def to_ics(events, method=None, zone_name="UTC", name=None, stored=False):
    """One VCALENDAR holding a VEVENT per event; METHOD (REQUEST, CANCEL) for invitations, none
    for downloads, feeds and calendar writes (RFC 5546 allows no ATTENDEE under PUBLISH). Times
    are written in `zone_name` (with its VTIMEZONE) so calendars show the reader's zone; a series
    (`series_event_data`) is written in its own zone instead, as calendars expand an RRULE in
    the wall-clock time of its DTSTART's zone: its master VEVENT (RRULE, EXDATE), then a VEVENT
    per override (RECURRENCE-ID). `name` names the calendar (NAME, and X-WR-CALNAME for the
    apps that only know that). `stored`: the copy a CalDAV server keeps in someone's calendar
    (scheduler/delivery/calendars.py), whose people carry SCHEDULE-AGENT=CLIENT (RFC 6638) so
    that a server which schedules sends no invitations of its own beside the service's emails."""
    # Imported here: it costs ~10 MB in every web process, and only calendar routes need it.
    from icalendar import Calendar, Event, vCalAddress, vRecur, vText

    def address(person):
        value = vCalAddress(f"mailto:{person['email']}")
        value.params["CN"] = vText(person["name"])
        if stored:
            value.params["SCHEDULE-AGENT"] = "CLIENT"
        return value

    def vevent(data, version, zone):
        """A VEVENT of the event `data` (its UID, status and people) with the times (in `zone`),
        title, place and sequence of `version`: the event itself, or an override of its series."""
        start, end = in_zone(version["start"], zone), in_zone(version["end"], zone)
        dates.extend([start.date(), end.date()])
        event = Event()
        event.add("uid", data["uid"])
        event.add("dtstamp", stamp)
        event.add("last-modified", datetime.fromisoformat(version["updated"]))
        event.add("sequence", version["sequence"])
        event.add("summary", version["title"])
        if version.get("location"):
            event.add("location", version["location"])
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("status", "CANCELLED" if method == "CANCEL" else data["status"])
        if data["organizer"]:
            event["organizer"] = address(data["organizer"])
        for person in data["attendees"]:
            attendee = address(person)
            attendee.params["PARTSTAT"] = PARTSTAT[person["status"]]
            attendee.params["ROLE"] = "REQ-PARTICIPANT"
            attendee.params["RSVP"] = "TRUE" if person["status"] == "needs-action" else "FALSE"
            event.add("attendee", attendee, encode=0)
        return event

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
    stamp = datetime.now(timezone.utc)
    dates = []  # the local date of every time written
    for data in events:
        series = data.get("series")
        zone = ZoneInfo(series["timezone"] if series else zone_name)
        master = vevent(data, data, zone)
        calendar.add_component(master)
        if series:
            master.add("rrule", vRecur.from_ical(series["rrule"]))
            if series["exdates"]:
                master.add("exdate", [in_zone(moment, zone) for moment in series["exdates"]])
            dates.append(last_end(series["rrule"], master.start, master.end).date())
            for override in series["overrides"]:
                moved = vevent(data, override, zone)
                moved.add("recurrence-id", in_zone(override["recurrence_id"], zone))
                calendar.add_component(moved)
    if dates:
        # Every zone's rules over the span of these events only: icalendar's default span ends
        # in 2038, after which calendars would apply the last rule it wrote all year round.
        # (UTC needs none: its times are written with Z.)
        calendar.add_missing_timezones(first_date=min(dates) - timedelta(days=1),
                                       last_date=max(dates) + timedelta(days=1))
    return calendar.to_ical()


def in_zone(moment, zone):
    """An ISO 8601 time of the event data in `zone`."""
    return datetime.fromisoformat(moment).astimezone(zone)


def last_end(rule, start, end):
    """When the last occurrence of an RRULE whose first is [start, end) ends, as calendars expand
    it: in the wall-clock time of start's zone."""
    return rrulestr(rule, dtstart=start.replace(tzinfo=None))[-1] + (end - start)
