"""A person's time as stored (docs/architecture.md, "A person's time"): the hours of a
schedule (weekly hours and date overrides, in the schedule's zone) and what blocks time
(bookings with their buffers, time off, their calendars' busy times: sql/functions.sql's
blocked_time and unavailable)."""

# The date overrides of the schedule a query calls `s`, as {"YYYY-MM-DD": hours}.
OVERRIDES = "(SELECT coalesce(jsonb_object_agg(o.day, o.hours), '{}') FROM schedule_overrides o WHERE o.schedule_id = s.id)"


def default_schedules(cur, user_ids):
    """Each person's default schedule: their own zone and weekly hours, and its overrides."""
    cur.execute(
        f"""
        SELECT u.id, u.timezone, u.working_hours, {OVERRIDES} AS overrides
        FROM users u LEFT JOIN schedules s ON s.user_id = u.id AND s.is_default
        WHERE u.id = ANY(%(user_ids)s)
        ORDER BY u.id
        """,
        {"user_ids": list(user_ids)},
    )
    return cur.fetchall()


def blocked(cur, user_ids, start, end, *, excluding=None):
    """What blocks these people's time in [start, end) (`excluding` a booking being moved):
    who, when, and its source (booking, time_off, calendar with its calendar_id)."""
    cur.execute(
        """
        SELECT user_id, start_time, end_time, source, calendar_id
        FROM blocked_time(%(user_ids)s, %(start)s, %(end)s, %(excluding)s)
        ORDER BY start_time, user_id
        """,
        {"user_ids": list(user_ids), "start": start, "end": end, "excluding": excluding},
    )
    return cur.fetchall()


def unavailable(cur, user_ids, start, end):
    """What blocks these people's time in [start, end) besides bookings (time off, calendars):
    who (with their name and address, for a 409), when, and its source."""
    cur.execute(
        """
        SELECT x.user_id, u.name, u.email, x.start_time, x.end_time, x.source
        FROM unavailable(%(user_ids)s, %(start)s, %(end)s) x JOIN users u ON u.id = x.user_id
        ORDER BY x.user_id, x.start_time
        """,
        {"user_ids": list(user_ids), "start": start, "end": end},
    )
    return cur.fetchall()
