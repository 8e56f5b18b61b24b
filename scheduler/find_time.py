"""When people are free together, and when one is busy: each one's default schedule (weekly
hours and date overrides, in their own zone) minus what blocks them (bookings with buffers,
time off), for /users/me/availability, /users/me/busy and an organisation's availability."""

from . import clock
from .availability import busy_intervals, free_starts
from .repositories import person_time


def free(cur, user_ids, start, end, *, duration, step):
    """Start times in [start, end) when every one of the people is free for `duration` minutes,
    every `step` minutes from the opening of each interval of their common hours."""
    people = person_time.default_schedules(cur, user_ids)
    blocked = person_time.blocked(cur, user_ids, start, end)
    return free_starts(people, [(b["start_time"], b["end_time"]) for b in blocked], start, end, duration, step,
                       clock.now())


def busy(cur, user_id, start, end):
    """A person's blocked time in [start, end), merged: what is blocked, never why."""
    return busy_intervals((b["start_time"], b["end_time"]) for b in person_time.blocked(cur, [user_id], start, end))
