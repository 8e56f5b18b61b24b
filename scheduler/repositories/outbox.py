"""The email outbox: rows written with the change that causes them, sent later by the worker."""

from psycopg2.extras import Json

COLUMNS = "id, recipient, template, payload, status, attempts, last_error, send_after, created_at, sent_at"


def add(cur, *, to, template, payload):
    cur.execute(
        """
        INSERT INTO email_outbox (recipient, template, payload)
        VALUES (%(to)s, %(template)s, %(payload)s)
        RETURNING id
        """,
        {"to": to, "template": template, "payload": Json(payload)},
    )
    return cur.fetchone()["id"]


def claim(cur, email_id, *, lease_seconds):
    """Takes the row for sending, or returns None if it is not due or someone else has it.

    The conditional UPDATE is the guard that makes a job delivered twice send once.
    """
    cur.execute(
        f"""
        UPDATE email_outbox
        SET status = 'sending', attempts = attempts + 1,
            locked_until = now() + make_interval(secs => %(lease)s)
        WHERE id = %(id)s
          AND send_after <= now()
          AND (status = 'pending' OR (status = 'sending' AND locked_until < now()))
        RETURNING {COLUMNS}
        """,
        {"id": email_id, "lease": lease_seconds},
    )
    return cur.fetchone()


def mark_sent(cur, email_id):
    cur.execute(
        """
        UPDATE email_outbox
        SET status = 'sent', sent_at = now(), locked_until = NULL, last_error = NULL
        WHERE id = %(id)s
        """,
        {"id": email_id},
    )


def record_failure(cur, email_id, *, error, max_attempts, backoff_seconds):
    """Back to pending with an exponential delay, or failed once the attempts are used up."""
    cur.execute(
        """
        UPDATE email_outbox
        SET status = CASE WHEN attempts >= %(max)s THEN 'failed' ELSE 'pending' END,
            last_error = %(error)s,
            locked_until = NULL,
            enqueued_at = NULL,
            send_after = now() + make_interval(secs => %(backoff)s * power(2, attempts - 1))
        WHERE id = %(id)s
        RETURNING status, attempts
        """,
        {"id": email_id, "error": error, "max": max_attempts, "backoff": backoff_seconds},
    )
    return cur.fetchone()


def take_due(cur, *, requeue_after, limit):
    """Rows that are due but may have no job: never enqueued (Redis was down), retries whose
    delay has passed, or sends abandoned by a crashed worker. Marks them enqueued now."""
    cur.execute(
        """
        UPDATE email_outbox SET enqueued_at = now()
        WHERE id IN (
            SELECT id FROM email_outbox
            WHERE status IN ('pending', 'sending')
              AND send_after <= now()
              AND coalesce(locked_until, '-infinity') < now()
              AND coalesce(enqueued_at, created_at) < now() - make_interval(secs => %(requeue_after)s)
            ORDER BY send_after
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id
        """,
        {"requeue_after": requeue_after, "limit": limit},
    )
    return [row["id"] for row in cur.fetchall()]


def find(cur, email_id):
    cur.execute(f"SELECT {COLUMNS} FROM email_outbox WHERE id = %(id)s", {"id": email_id})
    return cur.fetchone()
