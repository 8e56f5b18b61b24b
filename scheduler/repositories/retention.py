"""Deleting what the service no longer needs, a small batch at a time (scheduler/retention.py
says when). Each kind is a table and which of its rows are done with, given `days` and `now`
(scheduler/clock.py's, as every expiry is written by it)."""

PURGEABLE = {
    # Sent, failed or voided emails: done with once sent (or due, for those never sent).
    "emails": ("email_outbox", "status IN ('sent', 'failed', 'void')"
                               " AND coalesce(sent_at, send_after) < %(now)s - make_interval(days => %(days)s)"),
    "read_notifications": ("notifications", "is_read AND created_at < %(now)s - make_interval(days => %(days)s)"),
    "analytics_events": ("analytics_events", "created_at < %(now)s - make_interval(days => %(days)s)"),
    # Webhook deliveries (their attempts go with them): done with once delivered or given up.
    "webhook_deliveries": ("webhook_deliveries", "status IN ('delivered', 'failed')"
                           " AND coalesce(delivered_at, next_attempt_at) < %(now)s - make_interval(days => %(days)s)"),
    # A revocation matters only while the token it revokes could still be presented.
    "revocations": ("revoked_tokens", "expires_at < %(now)s"),
    # A stored response can be replayed only until it expires.
    "idempotency_keys": ("idempotency_keys", "expires_at <= %(now)s"),
}


def delete_batch(cur, kind, *, days, now, limit):
    """Deletes up to `limit` rows of `kind`; returns how many. Rows another transaction has
    locked are skipped (SKIP LOCKED), so the purge never waits for a writer, nor a writer long
    for it."""
    table, done_with = PURGEABLE[kind]
    cur.execute(
        f"""
        DELETE FROM {table} WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM {table} WHERE {done_with} LIMIT %(limit)s FOR UPDATE SKIP LOCKED))
        """,
        {"days": days, "now": now, "limit": limit},
    )
    return cur.rowcount
