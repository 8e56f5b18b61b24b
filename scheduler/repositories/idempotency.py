"""Idempotency keys: the first response to each (caller, key), kept until it expires."""

from psycopg2.extras import Json

from .locks import NAMESPACES


def hold(cur, *, scope, key):
    """Takes the key's lock for this transaction without waiting (so it never joins a deadlock,
    whatever the handler locks next); False if another request with the key is running."""
    cur.execute("SELECT pg_try_advisory_xact_lock(%(namespace)s, hashtext(%(scope)s || ' ' || %(key)s)) AS held",
                {"namespace": NAMESPACES["idempotency"], "scope": scope, "key": key})
    return cur.fetchone()["held"]


def find(cur, *, scope, key, now):
    """The recorded response of an unexpired key, or None. Call it after `hold`, in a statement
    of its own: under READ COMMITTED it then sees what the key's previous holder committed."""
    cur.execute(
        """
        SELECT fingerprint, status, headers, body FROM idempotency_keys
        WHERE scope = %(scope)s AND key = %(key)s AND expires_at > %(now)s
        """,
        {"scope": scope, "key": key, "now": now},
    )
    return cur.fetchone()


def record(cur, *, scope, key, fingerprint, status, headers, body, expires_at):
    """Keeps the response; replaces an expired record of the same key."""
    cur.execute(
        """
        INSERT INTO idempotency_keys (scope, key, fingerprint, status, headers, body, expires_at)
        VALUES (%(scope)s, %(key)s, %(fingerprint)s, %(status)s, %(headers)s, %(body)s, %(expires_at)s)
        ON CONFLICT (scope, key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, headers = EXCLUDED.headers,
            body = EXCLUDED.body, created_at = now(), expires_at = EXCLUDED.expires_at
        """,
        {"scope": scope, "key": key, "fingerprint": fingerprint, "status": status, "headers": Json(headers),
         "body": body, "expires_at": expires_at},
    )


def bodies_not_under(cur, prefix, *, after, limit):
    """Records whose body is sealed under another key than the one whose sealed values start
    with `prefix`, locked, by (scope, key) from after `after` (a position this returned)."""
    cur.execute(
        """
        SELECT scope, key, ARRAY[scope, key] AS position, body FROM idempotency_keys
        WHERE substr(body, 1, length(%(prefix)s)) <> %(prefix)s
          AND (%(after)s::text[] IS NULL OR (scope, key) > ((%(after)s::text[])[1], (%(after)s::text[])[2]))
        ORDER BY scope, key
        LIMIT %(limit)s
        FOR UPDATE
        """,
        {"prefix": prefix, "after": after, "limit": limit},
    )
    return cur.fetchall()


def set_body(cur, *, scope, key, body):
    cur.execute("UPDATE idempotency_keys SET body = %(body)s WHERE scope = %(scope)s AND key = %(key)s",
                {"scope": scope, "key": key, "body": body})
