"""Time off: spans a person is away, whatever their schedules say. Only its owner reads it."""

COLUMNS = 'id, start_time AS start, end_time AS "end", reason'


def insert(cur, *, user_id, start, end, reason):
    cur.execute(
        f"""
        INSERT INTO time_off (user_id, start_time, end_time, reason)
        VALUES (%(user_id)s, %(start)s, %(end)s, %(reason)s)
        RETURNING {COLUMNS}
        """,
        {"user_id": user_id, "start": start, "end": end, "reason": reason},
    )
    return cur.fetchone()


def list_for_user(cur, user_id, start, end):
    """The user's time off overlapping [start, end) (`end` None: no end), by start."""
    cur.execute(
        f"""
        SELECT {COLUMNS} FROM time_off
        WHERE user_id = %(user_id)s AND tstzrange(start_time, end_time) && tstzrange(%(start)s, %(end)s)
        ORDER BY start_time, id
        """,
        {"user_id": user_id, "start": start, "end": end},
    )
    return cur.fetchall()


def delete(cur, time_off_id, user_id):
    cur.execute("DELETE FROM time_off WHERE id = %(id)s AND user_id = %(user_id)s",
                {"id": time_off_id, "user_id": user_id})
    return cur.rowcount == 1


def bookings_within(cur, user_id, start, end):
    """The confirmed bookings the user attends (as booker, or invited and not declined) whose
    time overlaps [start, end), by start."""
    cur.execute(
        """
        SELECT b.id, b.title, b.start_time AS start, b.end_time AS "end"
        FROM booking_attendees a JOIN bookings b ON b.id = a.booking_id
        WHERE a.user_id = %(user_id)s AND a.confirmed AND a.status <> 'declined'
          AND a.start_time < %(end)s AND a.end_time > %(start)s
        ORDER BY b.start_time, b.id
        """,
        {"user_id": user_id, "start": start, "end": end},
    )
    return cur.fetchall()
