"""A person's time as stored (docs/architecture.md, "A person's time"): the hours of a
schedule (weekly hours and date overrides, in the schedule's zone) and what blocks time
(bookings with their buffers, time off, their calendars' busy times: sql/functions.sql's
blocked_time and unavailable)."""

def default_schedules(cur, user_ids):
    """Each person's default schedule: their own zone and weekly hours, and its overrides."""
    cur.execute(
        """
        SELECT p.id, s.timezone, s.working_hours, s.overrides
        FROM unnest(%(user_ids)s::bigint[]) AS p(id) CROSS JOIN LATERAL schedule_hours(p.id, NULL) s
        ORDER BY p.id
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


def blocked_at(cur, user_ids, spans, *, excluding=None):
    """Who is blocked in which of `spans` ([(start, end)], e.g. a series' occurrences), and by
    what (booking, time_off, calendar): {(span index, user id): {source, ...}}, in one statement."""
    cur.execute(
        "SELECT span, user_id, source FROM blocked_spans(%(user_ids)s, %(starts)s, %(ends)s, %(excluding)s)",
        {"user_ids": list(user_ids), "starts": [s for s, _ in spans], "ends": [e for _, e in spans],
         "excluding": excluding},
    )
    found = {}
    for row in cur.fetchall():
        found.setdefault((row["span"] - 1, row["user_id"]), set()).add(row["source"])
    return found


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
