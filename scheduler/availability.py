"""Interval maths for people's time: merging and intersecting intervals, start-time grids, and
when several people are free together (each one's hours in their own zone, minus what blocks
them)."""

from bisect import bisect_right
from datetime import timedelta
from zoneinfo import ZoneInfo

from .timezones import local_dates, working_intervals


def merge(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(a, b):
    out, i, j = [], 0, 0
    a, b = merge(a), merge(b)
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


class Blocked:
    """Spans of blocked time, merged, for asking whether a span touches any of them."""

    def __init__(self, spans):
        self.spans = merge(spans)
        self.ends = [end for _, end in self.spans]

    def touches(self, start, end):
        i = bisect_right(self.ends, start)
        return i < len(self.spans) and self.spans[i][0] < end


def grid(intervals, start, end, duration, step, zone_name=None):
    """Starts in [start, end) every `step` (elapsed time) from each interval's opening where
    `duration` fits inside the interval; a local time in `zone_name` that a fall-back change
    repeats is offered once (its first pass)."""
    zone = ZoneInfo(zone_name) if zone_name else None
    found = []
    for opens, closes in intervals:
        # Only an interval the clocks change in can hold a repeated local time.
        changes = zone is not None and opens.astimezone(zone).utcoffset() != closes.astimezone(zone).utcoffset()
        candidate = opens + max(0, -((opens - start) // step)) * step
        while candidate + duration <= closes and candidate < end:
            if not (changes and candidate.astimezone(zone).fold):
                found.append(candidate)
            candidate += step
    return found


def hours_of(person, start, end):
    """A person's working intervals (UTC) that can touch [start, end): their schedule's weekly
    hours and date overrides, each local date in their zone."""
    return working_intervals(person["working_hours"], person["timezone"], *local_dates(person["timezone"], start, end),
                             person["overrides"])


def free_starts(people, blocks, start, end, duration, step, not_before):
    """Starts in [start, end), none before `not_before`, where every person is inside their
    hours and `duration` minutes touch none of the `blocks`: every `step` minutes from the
    opening of each interval of their common hours, the booking ending by `end` (one person's
    local times once each, as in a slot list)."""
    common = None
    for person in people:
        own = hours_of(person, start, end)
        common = own if common is None else intersect(common, own)
    length, blocked = timedelta(minutes=duration), Blocked(blocks)
    intervals = [(opens, min(closes, end)) for opens, closes in common or []]
    return [{"start": s, "end": s + length}
            for s in grid(intervals, max(start, not_before), end, length, timedelta(minutes=step),
                          people[0]["timezone"] if len(people) == 1 else None)
            if not blocked.touches(s, s + length)]


def busy_intervals(blocks):
    return [{"start": s, "end": e} for s, e in merge(blocks)]
