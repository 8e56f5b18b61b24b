"""API keys: their rows, and the one statement that authenticates a request made with one."""

from .organizations import MANAGED_BY_USER

COLUMNS = "k.id, k.user_id, k.name, k.scopes, k.prefix, k.organization_id, k.created_at, k.expires_at, k.last_used_at"
MAX_PER_USER = 50
# Keys a user manages: their own, and their organisations' (made by any of its owner and admins).
MANAGED_BY = f"(k.user_id = %(user_id)s OR k.organization_id IN {MANAGED_BY_USER})"


def insert(cur, *, user_id, organization_id, name, scopes, prefix, key_hash, expires_at):
    """The new key, or None if the user already holds MAX_PER_USER (count under their lock)."""
    cur.execute(
        f"""
        INSERT INTO api_keys AS k (user_id, organization_id, name, scopes, prefix, key_hash, expires_at)
        SELECT %(user_id)s, %(organization_id)s, %(name)s, %(scopes)s, %(prefix)s, %(key_hash)s, %(expires_at)s
        WHERE (SELECT count(*) FROM api_keys WHERE user_id = %(user_id)s) < %(max)s
        RETURNING {COLUMNS}
        """,
        {"user_id": user_id, "organization_id": organization_id, "name": name, "scopes": list(scopes),
         "prefix": prefix, "key_hash": key_hash, "expires_at": expires_at, "max": MAX_PER_USER},
    )
    return cur.fetchone()


def list_managed(cur, user_id):
    cur.execute(f"SELECT {COLUMNS} FROM api_keys k WHERE {MANAGED_BY} ORDER BY k.id", {"user_id": user_id})
    return cur.fetchall()


def delete_managed(cur, key_id, user_id):
    """Revokes a key the user manages: the row goes, so the next request with it finds nothing.
    Returns it with its maker's name and address (the maker is told), or None."""
    cur.execute(
        f"""
        DELETE FROM api_keys k USING users u
        WHERE k.id = %(id)s AND u.id = k.user_id AND {MANAGED_BY}
        RETURNING {COLUMNS}, u.name AS maker_name, u.email AS maker_email
        """,
        {"id": key_id, "user_id": user_id},
    )
    return cur.fetchone()


def find_for_request(cur, key_hash):
    """The key's owner with what the key may do (sql/functions.sql, api_key_for_request), or None."""
    cur.execute("SELECT * FROM api_key_for_request(%(hash)s)", {"hash": key_hash})
    return cur.fetchone()
