"""People's external calendars (iCalendar subscriptions, CalDAV accounts) and their busy times."""

from psycopg2.extras import Json, execute_values

# What the API shows of a calendar (less its credentials, home and fetch state).
COLUMNS = ("c.id, c.user_id, c.kind, c.name, c.url, c.status, c.last_synced_at, c.busy_count, c.error, c.read_from, "
           "c.write_to, c.collections")
# What a fetch needs: the above, the credentials (the password sealed), where CalDAV's calendars
# are and what to send back, and the owner's zone and address (floating times, declined invitations).
SOURCE_COLUMNS = (f"{COLUMNS}, c.username, c.password_sealed, c.home_url, c.validators, c.failures, "
                  "u.timezone AS owner_timezone, u.email AS owner_email, u.name AS owner_name")


def count_own(cur, user_id):
    cur.execute("SELECT count(*) AS n FROM calendars WHERE user_id = %(user_id)s", {"user_id": user_id})
    return cur.fetchone()["n"]


def insert(cur, *, user_id, kind, name, url, username, password_sealed, home_url, read_from, write_to):
    """A new calendar; what its first fetch read is stored with record_success."""
    cur.execute(
        f"""
        INSERT INTO calendars AS c (user_id, kind, name, url, username, password_sealed, home_url, read_from, write_to)
        VALUES (%(user_id)s, %(kind)s, %(name)s, %(url)s, %(username)s, %(password_sealed)s, %(home_url)s,
                %(read_from)s, %(write_to)s)
        RETURNING {COLUMNS}
        """,
        {"user_id": user_id, "kind": kind, "name": name, "url": url, "username": username,
         "password_sealed": password_sealed, "home_url": home_url,
         "read_from": None if read_from is None else Json(read_from), "write_to": write_to},
    )
    return cur.fetchone()


def find_own(cur, calendar_id, user_id, *, lock=False):
    """The calendar if it is the user's, else None."""
    cur.execute(
        f"SELECT {COLUMNS} FROM calendars c WHERE c.id = %(id)s AND c.user_id = %(user_id)s"
        + (" FOR UPDATE" if lock else ""),
        {"id": calendar_id, "user_id": user_id},
    )
    return cur.fetchone()


def list_own(cur, user_id, *, after=None, limit=50):
    """The user's calendars, oldest first; `after` is the (id,) to continue from."""
    cur.execute(
        f"""
        SELECT {COLUMNS} FROM calendars c
        WHERE c.user_id = %(user_id)s AND (%(after)s::bigint IS NULL OR c.id > %(after)s)
        ORDER BY c.id
        LIMIT %(limit)s
        """,
        {"user_id": user_id, "after": after[0] if after else None, "limit": limit},
    )
    return cur.fetchall()


def update(cur, calendar_id, *, name, read_from, write_to, refetch_at):
    """Sets the name (None keeps it), and the calendars read and written (as given: None is
    every calendar with events / none). With `refetch_at`, what is read changed: the stored fetch
    state is dropped so the next refresh, due then, reads everything afresh."""
    cur.execute(
        f"""
        UPDATE calendars c
        SET name = coalesce(%(name)s, c.name), read_from = %(read_from)s, write_to = %(write_to)s,
            validators = CASE WHEN %(refetch_at)s::timestamptz IS NULL THEN c.validators ELSE '{{}}' END,
            next_refresh_at = coalesce(%(refetch_at)s, c.next_refresh_at), updated_at = now()
        WHERE c.id = %(id)s
        RETURNING {COLUMNS}
        """,
        {"id": calendar_id, "name": name, "read_from": None if read_from is None else Json(read_from),
         "write_to": write_to, "refetch_at": refetch_at},
    )
    return cur.fetchone()


def delete(cur, calendar_id):
    """The calendar and (by the foreign key's cascade) its busy times."""
    cur.execute("DELETE FROM calendars WHERE id = %(id)s", {"id": calendar_id})


def source(cur, calendar_id, *, lock=False):
    """The calendar with what a fetch needs (None if it is gone); `lock` it to write a result."""
    cur.execute(
        f"""
        SELECT {SOURCE_COLUMNS} FROM calendars c JOIN users u ON u.id = c.user_id
        WHERE c.id = %(id)s
        """ + ("FOR UPDATE OF c" if lock else ""),
        {"id": calendar_id},
    )
    return cur.fetchone()


def claim_due(cur, *, now, next_refresh_at):
    """The id of a calendar due for a refresh, its next refresh moved to `next_refresh_at` in the
    same statement, so several workers never take the same one; None when none is due."""
    cur.execute(
        """
        UPDATE calendars SET next_refresh_at = %(next)s
        WHERE id = (SELECT id FROM calendars WHERE next_refresh_at <= %(now)s
                    ORDER BY next_refresh_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id
        """,
        {"now": now, "next": next_refresh_at},
    )
    row = cur.fetchone()
    return row and row["id"]


def replace_busy(cur, calendar_id, user_id, busy, *, whole):
    """Stores `busy` ({href or None: [(start, end), ...]}) as the calendar's busy times: all of
    them (`whole`), or those of the CalDAV objects named (a sync's changes; an empty list drops
    an object's). Returns how many the calendar has now."""
    if whole:
        cur.execute("DELETE FROM calendar_busy WHERE calendar_id = %(id)s", {"id": calendar_id})
    elif busy:
        cur.execute("DELETE FROM calendar_busy WHERE calendar_id = %(id)s AND href = ANY(%(hrefs)s)",
                    {"id": calendar_id, "hrefs": list(busy)})
    execute_values(cur, "INSERT INTO calendar_busy (calendar_id, user_id, href, start_time, end_time) VALUES %s",
                   [(calendar_id, user_id, href, start, end) for href, intervals in busy.items()
                    for start, end in intervals], page_size=1000)
    cur.execute("SELECT count(*) AS n FROM calendar_busy WHERE calendar_id = %(id)s", {"id": calendar_id})
    return cur.fetchone()["n"]


def record_success(cur, calendar_id, *, now, busy_count, validators, collections, next_refresh_at):
    """A good fetch: status ok, the failure count reset; `collections` None keeps the listed ones."""
    cur.execute(
        f"""
        UPDATE calendars c
        SET status = 'ok', error = NULL, failures = 0, last_synced_at = %(now)s,
            busy_count = coalesce(%(busy_count)s, c.busy_count), validators = %(validators)s,
            collections = coalesce(%(collections)s, c.collections), next_refresh_at = %(next)s, updated_at = now()
        WHERE c.id = %(id)s
        RETURNING {COLUMNS}
        """,
        {"id": calendar_id, "now": now, "busy_count": busy_count, "validators": Json(validators),
         "collections": None if collections is None else Json(collections), "next": next_refresh_at},
    )
    return cur.fetchone()


def record_failure(cur, calendar_id, *, error, next_refresh_at):
    """A failed fetch: status error with why; busy times stay. Returns the calendar with its
    count of failures in a row."""
    cur.execute(
        f"""
        UPDATE calendars c
        SET status = 'error', error = %(error)s, failures = c.failures + 1, next_refresh_at = %(next)s,
            updated_at = now()
        WHERE c.id = %(id)s
        RETURNING {COLUMNS}, c.failures
        """,
        {"id": calendar_id, "error": error, "next": next_refresh_at},
    )
    return cur.fetchone()


def sealed_passwords_not_under(cur, prefix, *, after, limit):
    """Calendars with a password sealed under another key than the one whose sealed values start
    with `prefix`, locked (a rotation waits), by id from after `after`."""
    cur.execute(
        """
        SELECT id, id AS position, password_sealed FROM calendars
        WHERE substr(password_sealed, 1, length(%(prefix)s)) <> %(prefix)s
          AND (%(after)s::bigint IS NULL OR id > %(after)s)
        ORDER BY id
        LIMIT %(limit)s
        FOR UPDATE
        """,
        {"prefix": prefix, "after": after, "limit": limit},
    )
    return cur.fetchall()


def set_sealed_password(cur, calendar_id, password_sealed):
    cur.execute("UPDATE calendars SET password_sealed = %(sealed)s WHERE id = %(id)s",
                {"id": calendar_id, "sealed": password_sealed})
