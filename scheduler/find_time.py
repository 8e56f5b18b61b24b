"""When people are free together, and when one is busy: each one's default schedule (weekly
hours and date overrides, in their own zone) minus what blocks them (bookings with buffers,
time off, their calendars' busy times), for /users/me/availability, /users/me/busy and an organisation's availability."""

from . import clock
from .availability import busy_intervals, free_starts, merge
from .repositories import person_time


def free(cur, user_ids, start, end, *, duration, step):
    """Start times in [start, end) when every one of the people is free for `duration` minutes,
    every `step` minutes from the opening of each interval of their common hours."""
    people = person_time.default_schedules(cur, user_ids)
    blocked = person_time.blocked(cur, user_ids, start, end)
    return free_starts(people, [(b["start_time"], b["end_time"]) for b in blocked], start, end, duration, step,
                       clock.now())


def busy(cur, user_id, start, end):
    """A person's blocked time in [start, end), by start: their bookings and time off merged,
    without saying which; the busy times read from their calendars merged per calendar, each
    with `source: calendar` and its `calendar_id`."""
    own, calendars = [], {}
    for b in person_time.blocked(cur, [user_id], start, end):
        (calendars.setdefault(b["calendar_id"], []) if b["source"] == "calendar" else own).append(
            (b["start_time"], b["end_time"]))
    external = [{"start": s, "end": e, "source": "calendar", "calendar_id": calendar_id}
                for calendar_id, spans in sorted(calendars.items()) for s, e in merge(spans)]
    return sorted(busy_intervals(own) + external, key=lambda b: b["start"])
