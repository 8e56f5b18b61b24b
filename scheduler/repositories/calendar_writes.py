"""Calendar write-back (migration 020): per calendar and booking, the state the calendar should
hold, which the worker brings it to (scheduler/delivery/calendars.py). A booking write sets the
wanted state through the database function add_calendar_writes (repositories/messages.py)."""


def claim(cur, write_id, *, now, lease_seconds):
    """Takes a due write for sending, with what sending needs: the event, whether the calendar
    should hold it, the version, whether the calendar may hold the event already (as before this
    claim, which marks it so when it is to hold it), the lease's end, the calendar's collection
    and credentials, and its owner's time zone. None if the write is not due, being sent or done,
    or its calendar writes nowhere now. The conditional UPDATE makes a job delivered twice write
    once."""
    cur.execute(
        """
        WITH due AS (
            SELECT w.id, w.on_server, c.write_to, c.username, c.password_sealed, u.timezone
            FROM calendar_writes w JOIN calendars c ON c.id = w.calendar_id JOIN users u ON u.id = c.user_id
            WHERE w.id = %(id)s AND c.write_to IS NOT NULL AND w.next_attempt_at <= %(now)s
              AND (w.status = 'pending' OR (w.status = 'sending' AND w.locked_until < %(now)s))
            FOR UPDATE OF w
        )
        UPDATE calendar_writes w
        SET status = 'sending', attempts = w.attempts + 1,
            locked_until = %(now)s + make_interval(secs => %(lease)s), on_server = w.on_server OR w.held
        FROM due
        WHERE w.id = due.id
        RETURNING w.id, w.booking_id, w.event, w.held, w.version, w.attempts, w.locked_until, due.on_server,
                  due.write_to, due.username, due.password_sealed, due.timezone
        """,
        {"id": write_id, "now": now, "lease": lease_seconds},
    )
    return cur.fetchone()


def mark_written(cur, claimed, *, on_server):
    """The calendar holds what the claimed version wanted. Returns the row's status: `pending`
    if a newer version came meanwhile (due now), `written` otherwise; None if the lease had
    passed to another job."""
    cur.execute(
        """
        UPDATE calendar_writes
        SET status = CASE WHEN version = %(version)s THEN 'written' ELSE 'pending' END,
            on_server = %(on_server)s, last_error = NULL, locked_until = NULL, updated_at = now()
        WHERE id = %(id)s AND status = 'sending' AND locked_until = %(locked_until)s
        RETURNING status
        """,
        {"id": claimed["id"], "version": claimed["version"], "locked_until": claimed["locked_until"],
         "on_server": on_server},
    )
    row = cur.fetchone()
    return row and row["status"]


def record_failure(cur, claimed, *, now, error, delay_seconds, max_attempts):
    """The claimed version's attempt failed: it is tried again after the delay, or not at all
    once the attempts are used up. A newer version that came meanwhile is due now, with attempts
    of its own. Returns the row's status (None if the lease had passed to another job)."""
    cur.execute(
        """
        UPDATE calendar_writes
        SET status = CASE WHEN version = %(version)s AND attempts >= %(max)s THEN 'failed' ELSE 'pending' END,
            next_attempt_at = CASE WHEN version = %(version)s THEN %(now)s + make_interval(secs => %(delay)s)
                                   ELSE next_attempt_at END,
            last_error = %(error)s, locked_until = NULL, enqueued_at = NULL, updated_at = now()
        WHERE id = %(id)s AND status = 'sending' AND locked_until = %(locked_until)s
        RETURNING status
        """,
        {"id": claimed["id"], "version": claimed["version"], "locked_until": claimed["locked_until"],
         "now": now, "delay": delay_seconds, "max": max_attempts, "error": error},
    )
    row = cur.fetchone()
    return row and row["status"]


def take_due(cur, *, now, requeue_after, limit):
    """Writes that are due but may have no job: never enqueued (Redis was down), retries whose
    delay has passed, or writes abandoned by a crashed worker (`sending`, lease over), of
    calendars that still write somewhere. Marks them enqueued now; the caller still checks Redis
    for a live job."""
    cur.execute(
        """
        UPDATE calendar_writes SET enqueued_at = %(now)s
        WHERE id IN (
            SELECT w.id FROM calendar_writes w JOIN calendars c ON c.id = w.calendar_id
            WHERE w.status IN ('pending', 'sending')
              AND w.next_attempt_at <= %(now)s
              AND coalesce(w.locked_until, '-infinity') < %(now)s
              AND coalesce(w.enqueued_at, w.created_at) < %(now)s - make_interval(secs => %(requeue_after)s)
              AND c.write_to IS NOT NULL
            ORDER BY w.next_attempt_at
            LIMIT %(limit)s
            FOR UPDATE OF w SKIP LOCKED
        )
        RETURNING id, status
        """,
        {"now": now, "requeue_after": requeue_after, "limit": limit},
    )
    return cur.fetchall()
