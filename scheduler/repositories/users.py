from psycopg2.extras import Json

from ..email_addresses import identity_key

PUBLIC = "id, name, email, role, username, timezone, working_hours, reminders, locale, created_at, updated_at"


def insert(cur, *, name, email, password_hash, role="member"):
    """A new person, with their default schedule (their own hours, see sql/migrations/018)."""
    cur.execute(
        f"""
        WITH person AS (
            INSERT INTO users (name, email, email_key, password_hash, role)
            VALUES (%(name)s, %(email)s, %(email_key)s, %(password_hash)s, %(role)s)
            RETURNING {PUBLIC}, token_version
        ), schedule AS (
            INSERT INTO schedules (user_id, name, is_default) SELECT id, 'Working hours', true FROM person
        )
        SELECT * FROM person
        """,
        {"name": name, "email": email, "email_key": identity_key(email), "password_hash": password_hash, "role": role},
    )
    return cur.fetchone()


def find_for_login(cur, email):
    cur.execute(
        f"SELECT {PUBLIC}, password_hash, token_version FROM users WHERE email_key = %(key)s",
        {"key": identity_key(email)},
    )
    return cur.fetchone()


# A login token holds while its user's token_version is the token's and its id isn't revoked:
# a condition on the user row aliased `u`, for find_for_token and for a statement that checks
# its token itself (auth.login_required(token_checked_by_view=True), an analytics event).
# `token` is the token's claims; None (an API key, checked already; no token) makes it true.
TOKEN_HOLDS = """(%(version)s::integer IS NULL OR u.token_version = %(version)s
                  AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = %(jti)s))"""


def token_parameters(token):
    return {"version": token and token["version"], "jti": token and token["jti"]}


def find_for_token(cur, token):
    """The token's user while the token holds, else None."""
    cur.execute(
        f"SELECT {PUBLIC} FROM users u WHERE u.id = %(user_id)s AND {TOKEN_HOLDS}",
        {"user_id": token["user_id"], **token_parameters(token)},
    )
    return cur.fetchone()


def find_by_email(cur, email):
    cur.execute(f"SELECT {PUBLIC} FROM users WHERE email_key = %(key)s", {"key": identity_key(email)})
    return cur.fetchone()


def contacts(cur, user_ids):
    """Each of the users' name, address and language as they are now, by id (an id without a user
    is left out)."""
    if not user_ids:
        return {}
    cur.execute("SELECT id, name, email, locale FROM users WHERE id = ANY(%(ids)s)", {"ids": sorted(user_ids)})
    return {row.pop("id"): row for row in cur.fetchall()}


def password_for_change(cur, user_id):
    """The password hash and token version."""
    cur.execute("SELECT password_hash, token_version FROM users WHERE id = %(id)s", {"id": user_id})
    return cur.fetchone()


def update_profile(cur, user_id, *, name=None, email=None, username=None, timezone=None, working_hours=None,
                   reminders=None, locale=None):
    """Changes the given fields; None leaves a field as it is."""
    cur.execute(
        f"""
        UPDATE users
        SET name = coalesce(%(name)s, name),
            email = coalesce(%(email)s, email),
            email_key = coalesce(%(email_key)s, email_key),
            username = coalesce(%(username)s, username),
            timezone = coalesce(%(timezone)s, timezone),
            working_hours = coalesce(%(working_hours)s, working_hours),
            reminders = coalesce(%(reminders)s::integer[], reminders),
            locale = coalesce(%(locale)s, locale),
            updated_at = now()
        WHERE id = %(id)s
        RETURNING {PUBLIC}
        """,
        {"id": user_id, "name": name, "email": email, "email_key": email and identity_key(email),
         "username": username, "timezone": timezone,
         "working_hours": Json(working_hours) if working_hours is not None else None, "reminders": reminders,
         "locale": locale},
    )
    return cur.fetchone()


def set_password(cur, user_id, password_hash, *, token_version):
    """Stores the new hash and bumps token_version, which voids every token issued before;
    None if token_version is no longer `token_version` (another change came first)."""
    cur.execute(
        f"""
        UPDATE users
        SET password_hash = %(hash)s, token_version = token_version + 1, updated_at = now()
        WHERE id = %(id)s AND token_version = %(version)s
        RETURNING {PUBLIC}, token_version
        """,
        {"id": user_id, "hash": password_hash, "version": token_version},
    )
    return cur.fetchone()


def set_role(cur, user_id, role):
    cur.execute(
        f"UPDATE users SET role = %(role)s, updated_at = now() WHERE id = %(id)s RETURNING {PUBLIC}",
        {"id": user_id, "role": role},
    )
    return cur.fetchone()


def list_all(cur, *, after=None, limit):
    """Newest first; `after` is the (created_at, id) of the last row already seen."""
    created_at, last_id = after or (None, None)
    cur.execute(
        f"""
        SELECT {PUBLIC} FROM users
        WHERE %(created_at)s::timestamptz IS NULL OR (created_at, id) < (%(created_at)s, %(id)s)
        ORDER BY created_at DESC, id DESC
        LIMIT %(limit)s
        """,
        {"created_at": created_at, "id": last_id, "limit": limit},
    )
    return cur.fetchall()


def revoke_token(cur, *, jti, user_id, expires_at):
    cur.execute(
        """
        INSERT INTO revoked_tokens (jti, user_id, expires_at)
        VALUES (%(jti)s, %(user_id)s, to_timestamp(%(expires_at)s))
        ON CONFLICT (jti) DO NOTHING
        """,
        {"jti": jti, "user_id": user_id, "expires_at": expires_at},
    )


def set_feed_hash(cur, user_id, feed_hash):
    """Stores the new feed hash; True if it replaced an earlier one (whose URL now stops working)."""
    cur.execute(
        """
        UPDATE users u SET calendar_feed_hash = %(hash)s
        FROM users earlier
        WHERE u.id = %(id)s AND earlier.id = u.id
        RETURNING earlier.calendar_feed_hash IS NOT NULL AS replaced
        """,
        {"id": user_id, "hash": feed_hash},
    )
    return cur.fetchone()["replaced"]


def find_by_feed_hash(cur, feed_hash):
    cur.execute("SELECT id, name, timezone FROM users WHERE calendar_feed_hash = %(hash)s", {"hash": feed_hash})
    return cur.fetchone()
