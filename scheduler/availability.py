"""Free/busy and free slots: working hours (in each person's zone) minus their bookings."""

from datetime import datetime, timedelta, timezone
from itertools import groupby
from operator import itemgetter

from . import clock
from .timezones import working_windows

GRID_ORIGIN = datetime(2000, 1, 1, tzinfo=timezone.utc)


def merge(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(windows, busy):
    free = []
    busy = merge(busy)
    for start, end in windows:
        for b_start, b_end in busy:
            if b_end <= start or b_start >= end:
                continue
            if b_start > start:
                free.append((start, b_start))
            start = max(start, b_end)
        if start < end:
            free.append((start, end))
    return free


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


def free_time(people, commitments, start, end):
    """Times within [start, end) when every person is inside their working hours and not booked."""
    common = [(start, end)]
    for person in people:
        busy = [(c["start_time"], c["end_time"]) for c in commitments if c["user_id"] == person["id"]]
        own = subtract(working_windows(person["working_hours"], person["timezone"], start, end), busy)
        common = intersect(common, own)
    return common


def slots(free, duration, step):
    """Start times on the `step`-minute grid (UTC) where `duration` minutes fit; none in the past."""
    length, grid = timedelta(minutes=duration), timedelta(minutes=step)
    not_before = clock.now()
    found = []
    for start, end in free:
        earliest = max(start, not_before)
        candidate = GRID_ORIGIN - ((GRID_ORIGIN - earliest) // grid) * grid
        while candidate + length <= end:
            found.append({"start": candidate, "end": candidate + length})
            candidate += grid
    return found


def busy_intervals(commitments):
    return [{"start": s, "end": e} for s, e in merge((c["start_time"], c["end_time"]) for c in commitments)]


def calendar_busy(rows):
    """Busy times read from people's own calendars (rows of calendar_id, start_time, end_time,
    by calendar), merged per calendar, each saying which."""
    return [{"start": s, "end": e, "source": "calendar", "calendar_id": calendar_id}
            for calendar_id, group in groupby(rows, key=itemgetter("calendar_id"))
            for s, e in merge((r["start_time"], r["end_time"]) for r in group)]
