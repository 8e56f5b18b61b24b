from . import users

COLUMNS = "id, user_id, type, title, message, is_read, metadata, created_at"


def list_for_user(cur, user_id, *, unread_only=False, after=None, limit):
    """Unread first, newest first within each group; `after` is the (is_read, created_at, id)
    of the last row already seen."""
    is_read, created_at, last_id = after or (None, None, None)
    cur.execute(
        f"""
        SELECT {COLUMNS} FROM notifications
        WHERE user_id = %(user_id)s
          AND NOT (%(unread_only)s AND is_read)
          AND (%(is_read)s::boolean IS NULL
               OR is_read > %(is_read)s
               OR (is_read = %(is_read)s AND (created_at, id) < (%(created_at)s, %(id)s)))
        ORDER BY is_read, created_at DESC, id DESC
        LIMIT %(limit)s
        """,
        {"user_id": user_id, "unread_only": unread_only, "is_read": is_read, "created_at": created_at,
         "id": last_id, "limit": limit},
    )
    return cur.fetchall()


def count_unread(cur, user_id, token=None):
    """How many of the user's notifications are unread; with `token` (a login token's claims),
    None unless that token still holds, checked in the same statement (the badge is polled:
    one statement a request instead of two)."""
    cur.execute(
        f"""
        SELECT (SELECT count(*) FROM notifications n WHERE n.user_id = u.id AND NOT n.is_read) AS unread
        FROM users u
        WHERE u.id = %(user_id)s AND {users.TOKEN_HOLDS}
        """,
        {"user_id": user_id, **users.token_parameters(token)},
    )
    row = cur.fetchone()
    return None if row is None else row["unread"]


def mark_read(cur, notification_id, user_id):
    cur.execute(
        f"""
        UPDATE notifications SET is_read = true
        WHERE id = %(id)s AND user_id = %(user_id)s
        RETURNING {COLUMNS}
        """,
        {"id": notification_id, "user_id": user_id},
    )
    return cur.fetchone()


def mark_all_read(cur, user_id):
    cur.execute(
        "UPDATE notifications SET is_read = true WHERE user_id = %(user_id)s AND NOT is_read",
        {"user_id": user_id},
    )
    return cur.rowcount


def delete(cur, notification_id, user_id):
    cur.execute(
        "DELETE FROM notifications WHERE id = %(id)s AND user_id = %(user_id)s",
        {"id": notification_id, "user_id": user_id},
    )
    return cur.rowcount == 1
