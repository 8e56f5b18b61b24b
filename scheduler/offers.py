"""Which start times an event type offers, and why a given start is not offered.

The slot list and the check when a guest books (or reschedules) use the same rules:

- a start lies in one of the working intervals of the type's schedule (a date's override
  instead of its weekday's hours), every `step` minutes (elapsed time) from the interval's
  opening in the schedule's zone, and the whole booking fits inside it; a local time that a
  fall-back change repeats is offered once;
- it is at least `minimum_notice` minutes from now and at most `booking_window` days ahead;
- its host-local date has fewer than `daily_limit`, and its host-local ISO week fewer than
  `weekly_limit`, confirmed bookings of the type;
- the booking with its buffers touches no time the host's commitments block (bookings with
  their own buffers, time off).

Overlaps with bookings are also the database's to refuse (the exclusion constraint over
blocked time); time off and the limits are checked under the host's lock. Here they only
decide what to offer.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .availability import Blocked, grid, merge
from .timezones import local_dates, working_intervals

EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class Offer:
    """An event type's rules for one host at one moment (`now`)."""

    duration: timedelta
    step: timedelta
    before: timedelta
    after: timedelta
    notice: timedelta
    window_days: int
    now: datetime
    daily_limit: int | None
    weekly_limit: int | None
    hours: dict
    overrides: dict
    zone_name: str

    @classmethod
    def of(cls, event_type, now):
        """`event_type` as the repository returns it with its schedule (working_hours,
        overrides, host_timezone)."""
        def minutes(name):
            return timedelta(minutes=event_type[name])
        return cls(duration=minutes("duration"), step=minutes("step"), before=minutes("buffer_before"),
                   after=minutes("buffer_after"), notice=minutes("minimum_notice"),
                   window_days=event_type["booking_window"], now=now, daily_limit=event_type["daily_limit"],
                   weekly_limit=event_type["weekly_limit"], hours=event_type["working_hours"],
                   overrides=event_type["overrides"], zone_name=event_type["host_timezone"])

    def grid(self, start, end):
        """Starts in [start, end) on each working interval's own grid where the booking fits."""
        dates = local_dates(self.zone_name, start, end)
        return self.starts(working_intervals(self.hours, self.zone_name, *dates, self.overrides), start, end)

    def closed_starts(self, start, end):
        """The starts in [start, end) that overrides closing a date took away."""
        if not self.overrides:
            return []
        first, last = local_dates(self.zone_name, start, end)
        closed = [day for day in map(date.fromisoformat, self.overrides) if self.overrides[day.isoformat()] == []
                  and first <= day <= last]
        return self.starts([interval for day in closed
                            for interval in working_intervals(self.hours, self.zone_name, day, day)], start, end)

    def starts(self, intervals, start, end):
        return grid(intervals, start, end, self.duration, self.step, self.zone_name)

    def blocked_span(self, start):
        """What a booking at `start` keeps free: itself and its buffers."""
        return start - self.before, start + self.duration + self.after

    def blocked_window(self, start, end):
        """The span whose commitments can matter to starts in [start, end)."""
        return start - self.before, end + self.duration + self.after

    def local_date(self, start):
        return start.astimezone(ZoneInfo(self.zone_name)).date()

    def midnight(self, day):
        """The start (UTC) of a host-local date."""
        return datetime.combine(day, time(0), ZoneInfo(self.zone_name)).astimezone(timezone.utc)

    def week(self, start):
        """The host-local ISO week (Monday to Sunday) of `start`."""
        day = self.local_date(start)
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)

    def week_window(self, start):
        """[start, end) in UTC of the host-local ISO week of `start`."""
        monday, sunday = self.week(start)
        return self.midnight(monday), self.midnight(sunday + timedelta(days=1))

    def counted_days(self, start):
        """The host-local dates whose bookings count toward the limits of `start`: its date, or
        with a weekly limit its ISO week."""
        if self.weekly_limit is None:
            day = self.local_date(start)
            return day, day
        return self.week(start)

    def load(self, start, counts):
        """The type's bookings in the host-local ISO week of `start`, given them per host-local date."""
        first, last = self.week(start)
        return sum(n for day, n in counts.items() if first <= day <= last)

    def counted_window(self, start, end):
        """[start, end) in UTC of the dates whose bookings count toward the limits of starts in
        [start, end]: whole host-local days (23 or 25 hours on DST days) or weeks."""
        return self.midnight(self.counted_days(start)[0]), self.midnight(self.counted_days(end)[1] + timedelta(days=1))

    @property
    def limited(self):
        return self.daily_limit is not None or self.weekly_limit is not None

    @property
    def earliest(self):
        return self.now + self.notice

    @property
    def latest(self):
        return self.now + timedelta(days=self.window_days)

    def rule_broken(self, start):
        """Which of the type's own rules `start` breaks (whatever else is booked), as (reason,
        sentence), or None. The reasons are the slot list's."""
        if start not in self.grid(start, start + EPSILON):
            return "not_offered", (f"is not an offered start time: every {minutes_text(self.step)} from the start of "
                                   "the host's working hours, with the whole booking inside them")
        if start <= self.now:
            return "too_soon", "is in the past"
        if start < self.earliest:
            return "too_soon", f"is too soon: bookings need {minutes_text(self.notice)} notice"
        if start > self.latest:
            return "too_far_ahead", f"is too far ahead: bookings can be made at most {self.window_days} days ahead"
        return None

    def limit_reached(self, start, counts):
        """"day" or "week" if the date or week of `start` has reached its limit, given the
        type's bookings per host-local date; else None."""
        if not self.limited:
            return None
        if self.daily_limit is not None and counts.get(self.local_date(start), 0) >= self.daily_limit:
            return "day"
        if self.weekly_limit is not None and self.load(start, counts) >= self.weekly_limit:
            return "week"
        return None

    def considered(self, start, end, blocks, counts):
        """Every start on the grid in [start, end) with why it is not offered (None if it is),
        given the host's blocked spans and the type's bookings per host-local date; starts that
        an override closing their date took away are there too, as `closed`."""
        blocked, earliest, latest, limited = Blocked(blocks), self.earliest, self.latest, self.limited
        found = []
        for candidate in self.grid(start, end):
            if candidate < earliest:
                why = "too_soon"
            elif candidate > latest:
                why = "too_far_ahead"
            elif limited and self.limit_reached(candidate, counts):
                why = "fully_booked"
            elif blocked.touches(*self.blocked_span(candidate)):
                why = "no_free_time"
            else:
                why = None
            found.append((candidate, why))
        closed = self.closed_starts(start, end)
        return sorted(found + [(candidate, "closed") for candidate in closed], key=lambda c: c[0]) if closed else found


def combined(considered, *, every):
    """One slot list from each host's `considered` starts: a start is offered when every host
    offers it (`every`: they all attend) or when at least one does. A start not offered says
    why when the hosts agree on one reason, else `no_free_time`."""
    if len(considered) == 1:
        return considered[0]
    whys = {}
    for host in considered:
        for candidate, why in host:
            whys.setdefault(candidate, []).append(why)

    def why_not(reasons):
        offered = len(reasons) == len(considered) and not any(reasons) if every else None in reasons
        if offered:
            return None
        given = set(reasons) - {None}
        return given.pop() if len(given) == 1 else "no_free_time"
    return sorted((candidate, why_not(reasons)) for candidate, reasons in whys.items())


def empty_days(considered, start, end, zone_name, away=()):
    """Why each local date of [start, end) in the zone has no offered start: `time_off` if it
    lies wholly in the `away` spans, else the one reason its starts share, else `fully_booked`
    if one of them is, else `no_free_time`; `no_working_hours` when it has none at all. Dates
    with offered starts are left out."""
    zone = ZoneInfo(zone_name)
    reasons = {}
    for candidate, why in considered:
        reasons.setdefault(candidate.astimezone(zone).date(), set()).add(why)
    away = merge(away)
    day, last = start.astimezone(zone).date(), (end - EPSILON).astimezone(zone).date()
    found = []
    while day <= last:
        why = reasons.get(day, {"no_working_hours"})
        if None not in why:
            lo = datetime.combine(day, time(0), zone)
            hi = datetime.combine(day + timedelta(days=1), time(0), zone)
            found.append({"date": day, "reason": "time_off" if any(a <= lo and hi <= b for a, b in away) else
                          why.pop() if len(why) == 1 else "fully_booked" if "fully_booked" in why else "no_free_time"})
        day += timedelta(days=1)
    return found


def minutes_text(delta):
    """'45 minutes', '1 hour', '24 hours'."""
    minutes = delta // timedelta(minutes=1)
    if minutes % 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{minutes // 60} hour{'s' if minutes != 60 else ''}"
