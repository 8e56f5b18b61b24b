"""Which start times an event type offers, and why a given start is not offered.

The slot list and the check when a guest books (or reschedules) use the same rules:

- a start lies in one of the host's working intervals, every `step` minutes (elapsed time)
  from the interval's opening in the host's zone, and the whole booking fits inside it;
- it is at least `minimum_notice` minutes from now and at most `booking_window` days ahead;
- its host-local date has fewer than `daily_limit` confirmed bookings of the type;
- the booking with its buffers touches no time the host's commitments block (each with
  its own buffers).

The last rule is also the database's (the exclusion constraint over blocked time); the daily
limit is counted under the host's lock. Here they only decide what to offer.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .availability import merge
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
    hours: dict
    zone_name: str

    @classmethod
    def of(cls, event_type, now):
        """`event_type` as the repository returns it with its host (working_hours, host_timezone)."""
        def minutes(name):
            return timedelta(minutes=event_type[name])
        return cls(duration=minutes("duration"), step=minutes("step"), before=minutes("buffer_before"),
                   after=minutes("buffer_after"), notice=minutes("minimum_notice"),
                   window_days=event_type["booking_window"], now=now, daily_limit=event_type["daily_limit"],
                   hours=event_type["working_hours"], zone_name=event_type["host_timezone"])

    def grid(self, start, end):
        """Starts in [start, end) on each working interval's own grid where the booking fits."""
        found = []
        for opens, closes in working_intervals(self.hours, self.zone_name, *local_dates(self.zone_name, start, end)):
            candidate = opens + max(0, -((opens - start) // self.step)) * self.step
            while candidate + self.duration <= closes and candidate < end:
                found.append(candidate)
                candidate += self.step
        return found

    def blocked_span(self, start):
        """What a booking at `start` keeps free: itself and its buffers."""
        return start - self.before, start + self.duration + self.after

    def blocked_window(self, start, end):
        """The span whose commitments can matter to starts in [start, end)."""
        return start - self.before, end + self.duration + self.after

    def local_date(self, start):
        return start.astimezone(ZoneInfo(self.zone_name)).date()

    def day_bounds(self, start):
        """[start, end) in UTC of the host-local date holding `start` (23 or 25 hours on DST days)."""
        zone, day = ZoneInfo(self.zone_name), self.local_date(start)
        first = datetime.combine(day, time(0), zone).astimezone(timezone.utc)
        return first, datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(timezone.utc)

    def counted_window(self, start, end):
        """The span whose bookings count toward the daily limits of starts in [start, end)."""
        return self.day_bounds(start)[0], self.day_bounds(end)[1]

    @property
    def earliest(self):
        return self.now + self.notice

    @property
    def latest(self):
        return self.now + timedelta(days=self.window_days)

    def rule_broken(self, start):
        """Why `start` breaks one of the type's own rules (whatever else is booked), or None."""
        if start not in self.grid(start, start + EPSILON):
            return (f"is not an offered start time: every {minutes_text(self.step)} from the start of the host's "
                    "working hours, with the whole booking inside them")
        if start <= self.now:
            return "is in the past"
        if start < self.earliest:
            return f"is too soon: bookings need {minutes_text(self.notice)} notice"
        if start > self.latest:
            return f"is too far ahead: bookings can be made at most {self.window_days} days ahead"
        return None

    def day_full(self, start, counts):
        return self.daily_limit is not None and counts.get(self.local_date(start), 0) >= self.daily_limit

    def considered(self, start, end, blocks, counts):
        """Every start on the grid in [start, end) with why it is not offered (None if it is),
        given the host's blocked spans and the type's bookings per host-local date."""
        blocked = merge(blocks)
        ends = [block_end for _, block_end in blocked]
        found = []
        for candidate in self.grid(start, end):
            lo, hi = self.blocked_span(candidate)
            i = bisect_right(ends, lo)
            if candidate < self.earliest:
                why = "too_soon"
            elif candidate > self.latest:
                why = "too_far_ahead"
            elif self.day_full(candidate, counts):
                why = "fully_booked"
            elif i < len(blocked) and blocked[i][0] < hi:
                why = "no_free_time"
            else:
                why = None
            found.append((candidate, why))
        return found


def empty_days(considered, start, end, zone_name):
    """Why each local date of [start, end) in the zone has no offered start: the one reason
    its starts share, else `no_free_time`; `no_working_hours` when it has none at all. Dates
    with offered starts are left out."""
    zone = ZoneInfo(zone_name)
    reasons = {}
    for candidate, why in considered:
        reasons.setdefault(candidate.astimezone(zone).date(), set()).add(why)
    day, last = start.astimezone(zone).date(), (end - EPSILON).astimezone(zone).date()
    found = []
    while day <= last:
        why = reasons.get(day, {"no_working_hours"})
        if None not in why:
            found.append({"date": day, "reason": why.pop() if len(why) == 1 else
                          "fully_booked" if "fully_booked" in why else "no_free_time"})
        day += timedelta(days=1)
    return found


def minutes_text(delta):
    """'45 minutes', '1 hour', '24 hours'."""
    minutes = delta // timedelta(minutes=1)
    if minutes % 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{minutes // 60} hour{'s' if minutes != 60 else ''}"
