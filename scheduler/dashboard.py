"""The analytics dashboard: counts per event type over the last N days, for one member or for
everyone; the everyone view is a snapshot shared by all admins (scheduler/snapshots.py),
which the worker keeps fresh."""

from . import snapshots
from .repositories import analytics

ALL_EVENTS = "dashboard:all:"


def summary(db, days, user_id=None):
    with db.single_statement() as cur:
        rows = analytics.dashboard(cur, days=days, user_id=user_id)
    breakdown = [row for row in rows if row["event_type"] is not None]
    total = next((row for row in rows if row["event_type"] is None), None)
    return {
        "overview": {
            "total_events": total["count"] if total else 0,
            "unique_users": total["unique_users"] if total else 0,
            "event_types": len(breakdown),
        },
        "breakdown": breakdown,
    }


def all_events(client, db, days, max_age):
    """{as_of, value}: every event's summary, at most `max_age` seconds old."""
    return snapshots.shared(client, f"{ALL_EVENTS}{days}", max_age, lambda: summary(db, days))


def refresh(client, db, max_age, lead):
    """For the worker: recomputes the all-events snapshots admins asked for lately before they
    are `max_age` old (`lead` seconds ahead)."""
    def compute_for(key):
        days = key.removeprefix(ALL_EVENTS)
        if key.startswith(ALL_EVENTS) and days.isdigit():
            return lambda: summary(db, int(days))
        return None
    snapshots.refresh_wanted(client, max_age, lead, compute_for)
