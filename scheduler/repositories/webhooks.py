"""Webhook endpoints, their deliveries (an outbox, as email_outbox) and each delivery's attempts."""

from .organizations import MANAGED_BY_USER

COLUMNS = ("e.id, e.user_id, e.organization_id, e.url, e.description, e.events, e.enabled, e.disabled_reason, "
           "e.previous_secret_expires_at, e.created_at, e.updated_at")
DELIVERY_COLUMNS = ("d.id, d.endpoint_id, d.message_id, d.type, d.status, d.next_attempt_at, d.created_at, "
                    "d.delivered_at")
ATTEMPTS = """
    (SELECT coalesce(json_agg(json_build_object('attempted_at', a.attempted_at, 'response_status', a.response_status,
                                                'latency_ms', a.latency_ms, 'error', a.error) ORDER BY a.id), '[]')
     FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempts"""
# Endpoints a user manages: their own, and those of organisations they own or administer (or
# only one organisation's, for its API key).
MANAGED_BY = f"""
    (e.user_id = %(user_id)s OR e.organization_id IN {MANAGED_BY_USER})
    AND (%(only_organization)s::bigint IS NULL OR e.organization_id = %(only_organization)s)"""


def insert_endpoint(cur, *, user_id, organization_id, url, description, events, secret_sealed):
    cur.execute(
        f"""
        INSERT INTO webhook_endpoints AS e (user_id, organization_id, url, description, events, secret_sealed)
        VALUES (%(user_id)s, %(organization_id)s, %(url)s, %(description)s, %(events)s, %(secret_sealed)s)
        RETURNING {COLUMNS}
        """,
        {"user_id": user_id, "organization_id": organization_id, "url": url, "description": description,
         "events": list(events), "secret_sealed": secret_sealed},
    )
    return cur.fetchone()


def find_managed(cur, endpoint_id, user_id, only_organization=None):
    """The endpoint if the user manages it, else None."""
    cur.execute(
        f"SELECT {COLUMNS} FROM webhook_endpoints e WHERE e.id = %(id)s AND {MANAGED_BY}",
        {"id": endpoint_id, "user_id": user_id, "only_organization": only_organization},
    )
    return cur.fetchone()


def list_managed(cur, user_id, *, only_organization=None, after=None, limit=50):
    """Endpoints the user manages, oldest first; `after` is the (id,) to continue from."""
    cur.execute(
        f"""
        SELECT {COLUMNS} FROM webhook_endpoints e
        WHERE {MANAGED_BY} AND (%(after)s::bigint IS NULL OR e.id > %(after)s)
        ORDER BY e.id
        LIMIT %(limit)s
        """,
        {"user_id": user_id, "only_organization": only_organization, "after": after[0] if after else None,
         "limit": limit},
    )
    return cur.fetchall()


def update_endpoint(cur, endpoint_id, *, url, description, events, enabled):
    """Sets the given fields (None leaves one as it is). Enabling starts afresh: the reason it
    was disabled and its run of failures are forgotten."""
    cur.execute(
        f"""
        UPDATE webhook_endpoints e
        SET url = coalesce(%(url)s, e.url),
            description = CASE WHEN %(description)s::text IS NULL THEN e.description ELSE %(description)s END,
            events = coalesce(%(events)s::text[], e.events),
            enabled = coalesce(%(enabled)s, e.enabled),
            disabled_reason = CASE WHEN %(enabled)s THEN NULL ELSE e.disabled_reason END,
            failing_since = CASE WHEN %(enabled)s THEN NULL ELSE e.failing_since END,
            updated_at = now()
        WHERE e.id = %(id)s
        RETURNING {COLUMNS}
        """,
        {"id": endpoint_id, "url": url, "description": description,
         "events": list(events) if events is not None else None, "enabled": enabled},
    )
    return cur.fetchone()


def delete_endpoint(cur, endpoint_id):
    cur.execute("DELETE FROM webhook_endpoints WHERE id = %(id)s", {"id": endpoint_id})


def rotate_secret(cur, endpoint_id, secret_sealed, *, grace_seconds):
    """The new secret signs from now on; the current one keeps signing beside it for
    grace_seconds (a second rotation within that time retires the oldest at once)."""
    cur.execute(
        f"""
        UPDATE webhook_endpoints e
        SET previous_secret_sealed = e.secret_sealed, secret_sealed = %(secret_sealed)s,
            previous_secret_expires_at = now() + make_interval(secs => %(grace)s), updated_at = now()
        WHERE e.id = %(id)s
        RETURNING {COLUMNS}
        """,
        {"id": endpoint_id, "secret_sealed": secret_sealed, "grace": grace_seconds},
    )
    return cur.fetchone()


def sealed_secrets_not_under(cur, prefix, *, after, limit):
    """Endpoints with a secret sealed under another key than the one whose sealed values start
    with `prefix`, locked (a rotation waits), by id from after `after`."""
    cur.execute(
        """
        SELECT id, id AS position, secret_sealed, previous_secret_sealed FROM webhook_endpoints
        WHERE (substr(secret_sealed, 1, length(%(prefix)s)) <> %(prefix)s
               OR substr(previous_secret_sealed, 1, length(%(prefix)s)) <> %(prefix)s)
          AND (%(after)s::bigint IS NULL OR id > %(after)s)
        ORDER BY id
        LIMIT %(limit)s
        FOR UPDATE
        """,
        {"prefix": prefix, "after": after, "limit": limit},
    )
    return cur.fetchall()


def set_sealed_secrets(cur, endpoint_id, *, secret_sealed, previous_secret_sealed):
    cur.execute(
        """
        UPDATE webhook_endpoints SET secret_sealed = %(secret_sealed)s, previous_secret_sealed = %(previous)s
        WHERE id = %(id)s
        """,
        {"id": endpoint_id, "secret_sealed": secret_sealed, "previous": previous_secret_sealed},
    )


def add_deliveries(cur, endpoint_ids, *, type, payload, max_attempts):
    """One delivery of the payload per endpoint, each with its own webhook-id; returns them as
    the delivery log shows them."""
    cur.execute(
        f"""
        INSERT INTO webhook_deliveries AS d (endpoint_id, message_id, type, payload, max_attempts)
        SELECT endpoint_id, 'msg_' || replace(gen_random_uuid()::text, '-', ''), %(type)s, %(payload)s,
               %(max_attempts)s
        FROM unnest(%(endpoint_ids)s::bigint[]) AS endpoint_id
        RETURNING {DELIVERY_COLUMNS}, '[]'::json AS attempts
        """,
        {"endpoint_ids": list(endpoint_ids), "type": type, "payload": payload, "max_attempts": max_attempts},
    )
    return cur.fetchall()


def list_deliveries(cur, endpoint_id, *, status=None, after=None, limit=50):
    """The endpoint's deliveries, newest first, each with its attempts; `after` is the (id,)
    to continue from."""
    cur.execute(
        f"""
        SELECT {DELIVERY_COLUMNS}, {ATTEMPTS}
        FROM webhook_deliveries d
        WHERE d.endpoint_id = %(endpoint_id)s
          AND (%(status)s::text IS NULL OR d.status = %(status)s)
          AND (%(after)s::bigint IS NULL OR d.id < %(after)s)
        ORDER BY d.id DESC
        LIMIT %(limit)s
        """,
        {"endpoint_id": endpoint_id, "status": status, "after": after[0] if after else None, "limit": limit},
    )
    return cur.fetchall()


def retry(cur, endpoint_id, delivery_id, *, now):
    """Makes the delivery due now with one more attempt allowed (also a delivered one: a
    resend). None if it does not exist or is being sent right now."""
    cur.execute(
        f"""
        UPDATE webhook_deliveries d
        SET status = 'pending', next_attempt_at = %(now)s, enqueued_at = %(now)s, locked_until = NULL,
            max_attempts = greatest(d.max_attempts, d.attempts + 1)
        WHERE d.id = %(id)s AND d.endpoint_id = %(endpoint_id)s AND d.status <> 'sending'
        RETURNING {DELIVERY_COLUMNS}, {ATTEMPTS}
        """,
        {"id": delivery_id, "endpoint_id": endpoint_id, "now": now},
    )
    return cur.fetchone()


def delivery_status(cur, endpoint_id, delivery_id):
    cur.execute(
        "SELECT status FROM webhook_deliveries WHERE id = %(id)s AND endpoint_id = %(endpoint_id)s",
        {"id": delivery_id, "endpoint_id": endpoint_id},
    )
    row = cur.fetchone()
    return row and row["status"]


def claim(cur, delivery_id, *, now, lease_seconds, endpoint_lease_seconds):
    """Takes a due delivery of an enabled endpoint for sending, with what signing and sending
    need; None if it is not due, taken, finished, its endpoint is disabled, backed off, or has
    another attempt in flight. The conditional UPDATEs make a job delivered twice send once, and
    the one of the endpoint's row (which concurrent claims queue on) keeps one attempt per
    endpoint in flight."""
    cur.execute(
        """
        WITH due AS (
            SELECT d.id, d.endpoint_id FROM webhook_deliveries d
            WHERE d.id = %(id)s AND d.next_attempt_at <= %(now)s
              AND (d.status = 'pending' OR (d.status = 'sending' AND d.locked_until < %(now)s))
            FOR UPDATE
        ), endpoint AS (
            UPDATE webhook_endpoints e
            SET in_flight_delivery_id = due.id,
                in_flight_until = %(now)s + make_interval(secs => %(endpoint_lease)s)
            FROM due
            WHERE e.id = due.endpoint_id AND e.enabled
              AND coalesce(e.in_flight_until, '-infinity') < %(now)s
              AND coalesce(e.backoff_until, '-infinity') <= %(now)s
            RETURNING e.id, e.url, e.secret_sealed,
                      CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret_sealed
                      END AS previous_secret_sealed
        )
        UPDATE webhook_deliveries d
        SET status = 'sending', attempts = d.attempts + 1,
            locked_until = %(now)s + make_interval(secs => %(lease)s)
        FROM endpoint
        WHERE d.id = %(id)s AND d.endpoint_id = endpoint.id
        RETURNING d.id, d.endpoint_id, d.message_id, d.payload, d.attempts, d.max_attempts, endpoint.url,
                  endpoint.secret_sealed, endpoint.previous_secret_sealed
        """,
        {"id": delivery_id, "now": now, "lease": lease_seconds, "endpoint_lease": endpoint_lease_seconds},
    )
    return cur.fetchone()


def release(cur, endpoint_id, delivery_id, *, timed_out):
    """Ends the delivery's attempt in flight at its endpoint and counts the timeouts in a row;
    returns that count, or None if the endpoint's lease had passed to another attempt."""
    cur.execute(
        """
        UPDATE webhook_endpoints
        SET in_flight_delivery_id = NULL, in_flight_until = NULL,
            timeouts = CASE WHEN %(timed_out)s THEN timeouts + 1 ELSE 0 END
        WHERE id = %(endpoint_id)s AND in_flight_delivery_id = %(delivery_id)s
        RETURNING timeouts
        """,
        {"endpoint_id": endpoint_id, "delivery_id": delivery_id, "timed_out": timed_out},
    )
    row = cur.fetchone()
    return row and row["timeouts"]


def back_off(cur, endpoint_id, *, until):
    """No attempt to the endpoint before `until`: its pending deliveries are postponed to then,
    as the delivery log shows."""
    cur.execute(
        """
        WITH endpoint AS (
            UPDATE webhook_endpoints SET backoff_until = %(until)s WHERE id = %(id)s RETURNING id
        )
        UPDATE webhook_deliveries d SET next_attempt_at = %(until)s
        FROM endpoint
        WHERE d.endpoint_id = endpoint.id AND d.status = 'pending' AND d.next_attempt_at < %(until)s
        """,
        {"id": endpoint_id, "until": until},
    )


def next_waiting(cur, endpoint_id, *, now, after):
    """The endpoint's oldest due pending delivery other than `after` (the one just attempted, which
    keeps its retry delay), marked enqueued now; None if there is none or the endpoint is
    disabled or backed off."""
    cur.execute(
        """
        UPDATE webhook_deliveries SET enqueued_at = %(now)s
        WHERE id = (
            SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
            WHERE d.endpoint_id = %(endpoint_id)s AND d.id <> %(after)s AND d.status = 'pending'
              AND d.next_attempt_at <= %(now)s AND e.enabled AND coalesce(e.backoff_until, '-infinity') <= %(now)s
            ORDER BY d.next_attempt_at, d.id
            LIMIT 1
            FOR UPDATE OF d SKIP LOCKED
        )
        RETURNING id
        """,
        {"endpoint_id": endpoint_id, "now": now, "after": after},
    )
    row = cur.fetchone()
    return row and row["id"]


def add_attempt(cur, delivery_id, *, response_status, latency_ms, error):
    """Logs an attempt; False if the delivery is gone (its webhook was deleted meanwhile)."""
    cur.execute(
        """
        INSERT INTO webhook_attempts (delivery_id, response_status, latency_ms, error)
        SELECT id, %(status)s, %(latency)s, %(error)s FROM webhook_deliveries WHERE id = %(id)s
        """,
        {"id": delivery_id, "status": response_status, "latency": latency_ms, "error": error},
    )
    return cur.rowcount == 1


def mark_delivered(cur, delivery_id):
    """The delivery succeeded; so its endpoint's run of failures, if any, is over."""
    cur.execute(
        """
        WITH delivered AS (
            UPDATE webhook_deliveries
            SET status = 'delivered', delivered_at = now(), locked_until = NULL
            WHERE id = %(id)s
            RETURNING endpoint_id
        )
        UPDATE webhook_endpoints SET failing_since = NULL
        WHERE id = (SELECT endpoint_id FROM delivered) AND failing_since IS NOT NULL
        """,
        {"id": delivery_id},
    )


def record_failure(cur, delivery_id, *, now, delay_seconds, final):
    """Back to pending, due after the delay, or failed when `final` or the attempts are used
    up. Returns the status and when the endpoint's current run of failures began."""
    cur.execute(
        """
        WITH failed AS (
            UPDATE webhook_deliveries
            SET status = CASE WHEN %(final)s OR attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
                next_attempt_at = %(now)s + make_interval(secs => %(delay)s),
                locked_until = NULL, enqueued_at = NULL
            WHERE id = %(id)s
            RETURNING endpoint_id, status
        ), endpoint AS (
            UPDATE webhook_endpoints e SET failing_since = coalesce(e.failing_since, %(now)s)
            FROM failed WHERE e.id = failed.endpoint_id
            RETURNING e.failing_since
        )
        SELECT failed.status, endpoint.failing_since FROM failed, endpoint
        """,
        {"id": delivery_id, "now": now, "delay": delay_seconds, "final": final},
    )
    return cur.fetchone()


def disable(cur, endpoint_id, reason):
    """Disables the endpoint; returns it if this call did (None if it already was)."""
    cur.execute(
        f"""
        UPDATE webhook_endpoints e SET enabled = false, disabled_reason = %(reason)s, updated_at = now()
        WHERE e.id = %(id)s AND e.enabled
        RETURNING {COLUMNS}
        """,
        {"id": endpoint_id, "reason": reason},
    )
    return cur.fetchone()


def managers(cur, endpoint_id):
    """Who is told about the endpoint: its user, or its organisation's owner and admins."""
    cur.execute(
        """
        SELECT u.id, u.name, u.email FROM users u
        WHERE u.id IN (
            SELECT e.user_id FROM webhook_endpoints e WHERE e.id = %(id)s
            UNION
            SELECT o.owner_id FROM webhook_endpoints e JOIN organizations o ON o.id = e.organization_id
            WHERE e.id = %(id)s
            UNION
            SELECT m.user_id FROM webhook_endpoints e JOIN organization_members m
                ON m.organization_id = e.organization_id AND m.role = 'admin'
            WHERE e.id = %(id)s)
        ORDER BY u.id
        """,
        {"id": endpoint_id},
    )
    return cur.fetchall()


def take_due(cur, *, now, requeue_after, limit):
    """Due deliveries of enabled endpoints that may have no job: never enqueued (Redis was
    down), retries whose delay has passed, deliveries that waited for their endpoint, or attempts
    abandoned by a crashed worker (`sending`, lease over); the oldest per endpoint, and none of an
    endpoint with an attempt in flight or backed off (its attempt in flight hands over to the
    next when done). Marks them enqueued now; the caller still checks Redis for a live job."""
    cur.execute(
        """
        UPDATE webhook_deliveries SET enqueued_at = %(now)s
        WHERE id IN (
            SELECT id FROM webhook_deliveries
            WHERE id IN (
                SELECT DISTINCT ON (d.endpoint_id) d.id
                FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
                WHERE d.status IN ('pending', 'sending')
                  AND d.next_attempt_at <= %(now)s
                  AND coalesce(d.locked_until, '-infinity') < %(now)s
                  AND coalesce(d.enqueued_at, d.created_at) < %(now)s - make_interval(secs => %(requeue_after)s)
                  AND coalesce(e.in_flight_until, '-infinity') < %(now)s
                  AND coalesce(e.backoff_until, '-infinity') <= %(now)s
                ORDER BY d.endpoint_id, d.next_attempt_at, d.id
            )
            ORDER BY next_attempt_at
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id, status
        """,
        {"now": now, "requeue_after": requeue_after, "limit": limit},
    )
    return cur.fetchall()
