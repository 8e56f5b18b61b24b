"""API keys: their rows, and the one lookup that authenticates a request made with one."""

from .users import PUBLIC

COLUMNS = "id, name, scopes, prefix, organization_id, created_at, expires_at, last_used_at"
MAX_PER_USER = 50


def insert(cur, *, user_id, organization_id, name, scopes, prefix, key_hash, expires_at):
    """The new key, or None if the user already holds MAX_PER_USER."""
    cur.execute(
        f"""
        INSERT INTO api_keys (user_id, organization_id, name, scopes, prefix, key_hash, expires_at)
        SELECT %(user_id)s, %(organization_id)s, %(name)s, %(scopes)s, %(prefix)s, %(key_hash)s, %(expires_at)s
        WHERE (SELECT count(*) FROM api_keys WHERE user_id = %(user_id)s) < %(max)s
        RETURNING {COLUMNS}
        """,
        {"user_id": user_id, "organization_id": organization_id, "name": name, "scopes": list(scopes),
         "prefix": prefix, "key_hash": key_hash, "expires_at": expires_at, "max": MAX_PER_USER},
    )
    return cur.fetchone()


def list_for_user(cur, user_id):
    cur.execute(f"SELECT {COLUMNS} FROM api_keys WHERE user_id = %(user_id)s ORDER BY id", {"user_id": user_id})
    return cur.fetchall()


def delete(cur, key_id, user_id):
    """Revokes the user's key: the row goes, so the next request with it finds nothing."""
    cur.execute(f"DELETE FROM api_keys WHERE id = %(id)s AND user_id = %(user_id)s RETURNING {COLUMNS}",
                {"id": key_id, "user_id": user_id})
    return cur.fetchone()


def find_for_request(cur, key_hash):
    """The key's owner as a login token's lookup gives them, with what the key may do; None for
    no such key. One statement on two primary-key or unique indexes: whether it has expired,
    whether its organisation's key still has a maker who manages the organisation (read now,
    so a demoted admin's keys lose the reach at once), and whether last_used_at is due."""
    cur.execute(
        f"""
        SELECT u.*, k.id AS key_id, k.prefix AS key_prefix, k.scopes AS key_scopes,
               k.organization_id AS key_organization_id,
               k.expires_at IS NOT NULL AND k.expires_at <= now() AS key_expired,
               k.organization_id IS NULL
                   OR EXISTS (SELECT 1 FROM organizations o WHERE o.id = k.organization_id AND o.owner_id = u.id)
                   OR EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = k.organization_id
                              AND m.user_id = u.id AND m.role = 'admin') AS key_maker_manages,
               k.last_used_at IS NULL OR k.last_used_at < date_trunc('minute', now()) AS key_use_due
        FROM api_keys k
        CROSS JOIN LATERAL (SELECT {PUBLIC} FROM users WHERE id = k.user_id) u
        WHERE k.key_hash = %(hash)s
        """,
        {"hash": key_hash},
    )
    return cur.fetchone()


def mark_used(cur, key_id):
    """last_used_at to the minute; a no-op for a key already marked this minute."""
    cur.execute(
        """
        UPDATE api_keys SET last_used_at = date_trunc('minute', now())
        WHERE id = %(id)s AND (last_used_at IS NULL OR last_used_at < date_trunc('minute', now()))
        """,
        {"id": key_id},
    )
