"""The one source of "now" for scheduling decisions, so tests can move time forward."""

from datetime import datetime, timedelta, timezone

_offset = timedelta(0)


def now():
    return datetime.now(timezone.utc) + _offset


def travel(delta):
    """Moves this process's clock by `delta` (tests use it to make reminders due)."""
    global _offset
    _offset += delta


def reset():
    global _offset
    _offset = timedelta(0)
