"""The email outbox: rows written with the change that causes them, sent later by the worker."""

# What the worker needs to send a claimed row. The recipient is the person's address now (it may
# have changed since the row was written, and the old one may be someone else's by now); the
# written one only for rows without a person (a guest).
CLAIMED = ("id, coalesce((SELECT u.email FROM users u WHERE u.id = email_outbox.user_id), recipient) AS recipient, "
           "template, payload, status, attempts, last_error, send_after, created_at, sent_at, "
           "user_id, booking_id, reminder_minutes")


def void_reminders(cur, booking_id, user_id=None, seat_id=None):
    """Pending reminders of the booking (of one attendee, or of one seat's guest, if given) will
    not be sent."""
    cur.execute(
        """
        UPDATE email_outbox SET status = 'void'
        WHERE booking_id = %(booking_id)s AND reminder_minutes IS NOT NULL AND status = 'pending'
          AND (%(user_id)s::bigint IS NULL OR user_id = %(user_id)s)
          AND (%(seat_id)s::bigint IS NULL OR seat_id = %(seat_id)s)
        """,
        {"booking_id": booking_id, "user_id": user_id, "seat_id": seat_id},
    )


# A row a claim may take: due, and not being sent (or its sender's lease ran out). Due by the
# later of the worker's clock and the database's, which stamped a fresh row's send_after: a
# worker whose clock runs behind still takes a row the moment it is committed.
CLAIMABLE = ("send_after <= greatest(%(now)s, now())"
             " AND (status = 'pending' OR (status = 'sending' AND locked_until < %(now)s))")


def claim(cur, email_id, *, now, lease_seconds):
    """Takes the row for sending (addressed to the person as they are now), or returns None if
    it is not due or someone else has it.

    The conditional UPDATE is the guard that makes a job delivered twice send once.
    """
    return take(cur, "%(id)s", {"id": email_id, "now": now, "lease": lease_seconds})


def claim_next(cur, *, now, lease_seconds):
    """Takes the due row that has waited longest, as `claim` takes one, passing over rows
    another transaction holds; None if there is none. (The status list lets the planner use the
    outbox's partial index of due rows.)"""
    return take(cur, f"""(SELECT id FROM email_outbox WHERE status IN ('pending', 'sending') AND {CLAIMABLE}
                          ORDER BY send_after LIMIT 1 FOR UPDATE SKIP LOCKED)""",
                {"now": now, "lease": lease_seconds})


def take(cur, which, params):
    cur.execute(
        f"""
        UPDATE email_outbox
        SET status = 'sending', attempts = attempts + 1,
            locked_until = %(now)s + make_interval(secs => %(lease)s)
        WHERE id = {which} AND {CLAIMABLE}
        RETURNING {CLAIMED}
        """,
        params,
    )
    return cur.fetchone()


def mark_sent(cur, email_id, recipient):
    """Records the send and the address it went to; False if the row was not being sent
    (already recorded by an earlier try whose answer was lost)."""
    cur.execute(
        """
        UPDATE email_outbox
        SET status = 'sent', sent_at = now(), locked_until = NULL, last_error = NULL, recipient = %(recipient)s
        WHERE id = %(id)s AND status = 'sending'
        """,
        {"id": email_id, "recipient": recipient},
    )
    return cur.rowcount == 1


def record_failure(cur, email_id, *, now, error, max_attempts, backoff_seconds):
    """Back to pending with an exponential delay, or failed once the attempts are used up."""
    cur.execute(
        """
        UPDATE email_outbox
        SET status = CASE WHEN attempts >= %(max)s THEN 'failed' ELSE 'pending' END,
            last_error = %(error)s,
            locked_until = NULL,
            enqueued_at = NULL,
            send_after = %(now)s + make_interval(secs => %(backoff)s * power(2, attempts - 1))
        WHERE id = %(id)s
        RETURNING status, attempts
        """,
        {"id": email_id, "now": now, "error": error, "max": max_attempts, "backoff": backoff_seconds},
    )
    return cur.fetchone()


def take_due(cur, *, now, requeue_after, limit):
    """Rows that are due and that no drain took within `requeue_after`: written while Redis was
    down, retries and reminders whose time has come, or sends abandoned by a crashed worker
    (`sending`, lease over). Marks them enqueued now, so the next sweeps pass over them for
    `requeue_after`, and returns their ids."""
    cur.execute(
        """
        UPDATE email_outbox SET enqueued_at = %(now)s
        WHERE id IN (
            SELECT id FROM email_outbox
            WHERE status IN ('pending', 'sending')
              AND send_after <= %(now)s
              AND coalesce(locked_until, '-infinity') < %(now)s
              AND coalesce(enqueued_at, created_at) < %(now)s - make_interval(secs => %(requeue_after)s)
            ORDER BY send_after
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id
        """,
        {"now": now, "requeue_after": requeue_after, "limit": limit},
    )
    return [row["id"] for row in cur.fetchall()]

