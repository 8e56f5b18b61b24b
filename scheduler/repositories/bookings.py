COLUMNS = "b.id, b.user_id, b.title, b.start_time, b.end_time, b.status, b.created_at, b.updated_at"
ATTENDEES = """
    (SELECT json_agg(json_build_object('user_id', a.user_id, 'name', u.name, 'email', u.email,
                                       'status', a.status) ORDER BY a.user_id)
     FROM booking_attendees a JOIN users u ON u.id = a.user_id
     WHERE a.booking_id = b.id) AS attendees"""


def create(cur, *, owner_id, title, start, end, invitee_ids):
    """Inserts the booking and its attendees (the owner accepted, others needs-action) in one
    statement; either exclusion constraint refuses it if anyone would be double-booked."""
    cur.execute(
        f"""
        WITH booking AS (
            INSERT INTO bookings (user_id, title, start_time, end_time)
            VALUES (%(owner_id)s, %(title)s, %(start)s, %(end)s)
            RETURNING *
        ), attendees AS (
            INSERT INTO booking_attendees (booking_id, user_id, status, start_time, end_time, confirmed)
            SELECT booking.id, person.id, CASE WHEN person.id = %(owner_id)s THEN 'accepted' ELSE 'needs-action' END,
                   booking.start_time, booking.end_time, true
            FROM booking, unnest(%(people)s::bigint[]) AS person (id)
        )
        SELECT {COLUMNS}, b.sequence FROM booking b
        """,
        {"owner_id": owner_id, "title": title, "start": start, "end": end, "people": [owner_id, *invitee_ids]},
    )
    return cur.fetchone()


def find_visible(cur, booking_id, user_id, *, lock=False):
    """The booking if the user is one of its attendees (the owner is one), else None."""
    cur.execute(
        f"""
        SELECT {COLUMNS}, b.sequence, {ATTENDEES}
        FROM bookings b
        JOIN booking_attendees me ON me.booking_id = b.id AND me.user_id = %(user_id)s
        WHERE b.id = %(id)s
        {"FOR UPDATE OF b" if lock else ""}
        """,
        {"id": booking_id, "user_id": user_id},
    )
    return cur.fetchone()


def list_for_attendee(cur, user_id, *, start=None, end=None, status=None, after=None, limit=50):
    """Bookings the user attends, by start time; `after` is the (start_time, id) to continue from."""
    after_start, after_id = after or (None, None)
    cur.execute(
        f"""
        SELECT {COLUMNS}, {ATTENDEES}
        FROM booking_attendees me
        JOIN bookings b ON b.id = me.booking_id
        WHERE me.user_id = %(user_id)s
          AND (%(start)s::timestamptz IS NULL OR me.end_time > %(start)s)
          AND (%(end)s::timestamptz IS NULL OR me.start_time < %(end)s)
          AND (%(status)s::text IS NULL OR b.status = %(status)s)
          AND (%(after_start)s::timestamptz IS NULL OR (me.start_time, me.booking_id) > (%(after_start)s, %(after_id)s))
        ORDER BY me.start_time, me.booking_id
        LIMIT %(limit)s
        """,
        {"user_id": user_id, "start": start, "end": end, "status": status,
         "after_start": after_start, "after_id": after_id, "limit": limit},
    )
    return cur.fetchall()


def update(cur, booking_id, *, title, start, end):
    cur.execute(
        f"""
        UPDATE bookings b
        SET title = %(title)s, start_time = %(start)s, end_time = %(end)s,
            sequence = sequence + 1, updated_at = now()
        WHERE id = %(id)s
        RETURNING {COLUMNS}, b.sequence
        """,
        {"id": booking_id, "title": title, "start": start, "end": end},
    )
    return cur.fetchone()


def cancel(cur, booking_id, owner_id):
    cur.execute(
        f"""
        UPDATE bookings b
        SET status = 'cancelled', sequence = sequence + 1, updated_at = now()
        WHERE id = %(id)s AND user_id = %(owner_id)s AND status = 'confirmed'
        RETURNING {COLUMNS}, b.sequence
        """,
        {"id": booking_id, "owner_id": owner_id},
    )
    return cur.fetchone()


def set_attendance(cur, booking_id, user_id, status):
    cur.execute(
        """
        UPDATE booking_attendees SET status = %(status)s
        WHERE booking_id = %(booking_id)s AND user_id = %(user_id)s
        """,
        {"booking_id": booking_id, "user_id": user_id, "status": status},
    )


def commitments(cur, user_ids, start, end, *, excluding=None):
    """Confirmed, not-declined commitments of these people overlapping [start, end): who and when."""
    cur.execute(
        """
        SELECT a.user_id, u.name, u.email, a.start_time, a.end_time
        FROM booking_attendees a JOIN users u ON u.id = a.user_id
        WHERE a.user_id = ANY(%(user_ids)s) AND a.confirmed AND a.status <> 'declined'
          AND a.start_time < %(end)s AND a.end_time > %(start)s
          AND a.booking_id IS DISTINCT FROM %(excluding)s
        ORDER BY a.start_time, a.user_id
        """,
        {"user_ids": list(user_ids), "start": start, "end": end, "excluding": excluding},
    )
    return cur.fetchall()


def recipients(cur, booking_id):
    """The booking's attendees with what their emails and reminders need, by user id."""
    cur.execute(
        """
        SELECT u.id AS user_id, u.name, u.email, u.timezone, u.reminders, a.status
        FROM booking_attendees a JOIN users u ON u.id = a.user_id
        WHERE a.booking_id = %(booking_id)s
        ORDER BY u.id
        """,
        {"booking_id": booking_id},
    )
    return cur.fetchall()


def calendar_for(cur, user_id):
    """Everything the user attends and has not declined, for their calendar feed."""
    cur.execute(
        f"""
        SELECT {COLUMNS}, b.sequence, {ATTENDEES}
        FROM booking_attendees me JOIN bookings b ON b.id = me.booking_id
        WHERE me.user_id = %(user_id)s AND me.status <> 'declined'
        ORDER BY me.start_time, me.booking_id
        """,
        {"user_id": user_id},
    )
    return cur.fetchall()
