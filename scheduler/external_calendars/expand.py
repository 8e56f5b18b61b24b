"""iCalendar data to busy intervals, exactly: recurring_ical_events expands RRULE, RDATE,
EXDATE and RECURRENCE-ID overrides (moved and cancelled instances); icalendar resolves TZIDs
(IANA names, VTIMEZONE definitions, Windows names). What is left to us is the reading of times
that have no zone: floating times and all-day dates are the owner's local time."""

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..availability import merge
from ..calendar import issued_here
from . import CalendarError

# Busy times are kept from a day ago to a year and a day ahead.
HORIZON_PAST = timedelta(days=1)
HORIZON_AHEAD = timedelta(days=366)
# The library compares floating times as if they were UTC: a day either side catches them all
# before each instance is placed in the owner's zone and checked against the horizon.
MARGIN = timedelta(days=1)
MAX_INSTANCES = 50_000


@dataclass(frozen=True)
class Owner:
    """Whose calendar it is: times without a zone are read in theirs; their own declined
    invitations don't block."""

    timezone: str
    email: str


def horizon(now):
    return now - HORIZON_PAST, now + HORIZON_AHEAD


def parse(data):
    """The VCALENDAR in `data` (bytes); CalendarError if it is not iCalendar."""
    from icalendar import Calendar  # as in calendar.py: ~10 MB that only calendar work needs
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").upper().startswith(b"BEGIN:VCALENDAR"):
        raise CalendarError("not iCalendar: the answer is not a VCALENDAR")
    try:
        return Calendar.from_ical(data)
    except Exception as exc:  # noqa: BLE001 - the parser meets anything a server sends; each is "not iCalendar"
        raise CalendarError("not iCalendar: the file could not be parsed") from exc


@dataclass
class Expansion:
    """Expands calendars for one owner over one horizon, counting instances across all of them
    (MAX_INSTANCES per fetch). `domain` is the service's mail domain: events whose UID it issued
    (our own bookings, written back or subscribed to through our feed) are skipped."""

    owner: Owner
    domain: str
    start: datetime
    end: datetime
    instances: int = 0
    zone: ZoneInfo = field(init=False)

    def __post_init__(self):
        self.zone = ZoneInfo(self.owner.timezone)

    def busy(self, calendar):
        """The merged busy intervals (UTC) of one VCALENDAR within the horizon."""
        import recurring_ical_events
        found = []
        blocking = {}  # per source component (UID, RECURRENCE-ID): copying one per instance was half the time
        query = recurring_ical_events.of(calendar, skip_bad_series=True)
        # Series by series rather than query.between(), to stop at MAX_INSTANCES instead of
        # expanding a minutely rule in full first; a series the library finds broken is left
        # out, as query.between() would with skip_bad_series.
        for series in query.series:
            with contextlib.suppress(*query.suppressed_errors):
                for occurrence in series.between(self.naive(self.start - MARGIN), self.naive(self.end + MARGIN)):
                    self.instances += 1
                    if self.instances > MAX_INSTANCES:
                        raise CalendarError(f"too many events: more than {MAX_INSTANCES:,} in the coming year")
                    source = (occurrence.uid, occurrence.recurrence_ids)
                    if source not in blocking:
                        blocking[source] = self.blocks(occurrence.as_component(False))
                    interval = self.interval(occurrence) if blocking[source] else None
                    if interval is not None:
                        found.append(interval)
        return merge(found)

    def interval(self, occurrence):
        """(start, end) in UTC if the instance lies within the horizon, else None."""
        start, end = self.moment(occurrence.start), self.moment(occurrence.end)
        if end <= start or end <= self.start or start >= self.end:
            return None
        return start, end

    def blocks(self, event):
        if str(event.get("TRANSP", "")).upper() == "TRANSPARENT" or str(event.get("STATUS", "")).upper() == "CANCELLED":
            return False
        if issued_here(str(event.get("UID", "")), self.domain):
            return False
        attendees = event.get("ATTENDEE", [])
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            address = str(attendee).strip().lower().removeprefix("mailto:")
            if address == self.owner.email.lower() and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED":
                return False
        return True

    def moment(self, value):
        """An instance's start or end in UTC: a date is the owner's local midnight, a floating
        time the owner's local time."""
        if not isinstance(value, datetime):
            value = datetime.combine(value, time())
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(timezone.utc)

    @staticmethod
    def naive(moment):
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
