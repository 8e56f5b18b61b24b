"""Event types: what a host offers through a booking link, and the rules for booking it."""

COLUMNS = ("t.id, t.user_id, t.slug, t.title, t.description, t.location, t.duration, t.step, t.buffer_before, "
           "t.buffer_after, t.minimum_notice, t.booking_window, t.daily_limit, t.weekly_limit, t.max_occurrences, "
           "t.requires_confirmation, t.confirmation_hours, t.seats, t.cancel_notice, t.reschedule_notice, t.schedule_id, t.active, "
           "t.embed_origins, t.created_at, t.updated_at")


def insert(cur, **fields):
    """A new event type with these columns (names from the caller's own model, never from the
    client): a person's (`user_id`, `schedule_id`) or an organisation's (`organization_id`,
    `kind`), with the fields both have; returns it as COLUMNS shows it."""
    cur.execute(
        f"""
        INSERT INTO event_types AS t ({", ".join(fields)})
        VALUES ({", ".join(f"%({column})s" for column in fields)})
        RETURNING {COLUMNS}
        """,
        fields,
    )
    return cur.fetchone()


def list_for_user(cur, user_id):
    cur.execute(f"SELECT {COLUMNS} FROM event_types t WHERE t.user_id = %(user_id)s ORDER BY t.id",
                {"user_id": user_id})
    return cur.fetchall()


def find_own(cur, event_type_id, user_id):
    cur.execute(f"SELECT {COLUMNS} FROM event_types t WHERE t.id = %(id)s AND t.user_id = %(user_id)s",
                {"id": event_type_id, "user_id": user_id})
    return cur.fetchone()


def update(cur, event_type_id, user_id, changes):
    """Sets the given columns (names from the caller's own model, never from the client) of
    the user's type; None if they have no such type."""
    assignments = ", ".join(f"{column} = %({column})s" for column in changes)
    cur.execute(
        f"""
        UPDATE event_types t SET {assignments}, updated_at = now()
        WHERE t.id = %(id)s AND t.user_id = %(user_id)s
        RETURNING {COLUMNS}
        """,
        changes | {"id": event_type_id, "user_id": user_id},
    )
    return cur.fetchone()


def delete(cur, event_type_id, user_id):
    cur.execute("DELETE FROM event_types WHERE id = %(id)s AND user_id = %(user_id)s",
                {"id": event_type_id, "user_id": user_id})
    return cur.rowcount == 1


def find_public(cur, username, slug):
    """An active type by its host's username and its slug, with what the slot rules need of the
    host and the hours of the type's schedule (sql/functions.sql, event_type_offer)."""
    cur.execute("SELECT * FROM event_type_offer(%(username)s, %(slug)s, NULL)", {"username": username, "slug": slug})
    return cur.fetchone()


def find_with_host(cur, event_type_id):
    """The type of an existing booking (active or not), as find_public has it, or None if deleted."""
    cur.execute("SELECT * FROM event_type_offer(NULL, NULL, %(id)s)", {"id": event_type_id})
    return cur.fetchone()


def find_team_link(cur, org_slug, slug):
    """An active team type by its organisation's slug and its slug, with its offered hosts and
    their schedules' hours (sql/functions.sql, team_offer)."""
    cur.execute("SELECT * FROM team_offer(%(org_slug)s, %(slug)s, NULL)", {"org_slug": org_slug, "slug": slug})
    return cur.fetchone()


def find_team_type(cur, event_type_id):
    """The team type of an existing booking (active or not), as find_team_link has it, or None."""
    cur.execute("SELECT * FROM team_offer(NULL, NULL, %(id)s)", {"id": event_type_id})
    return cur.fetchone()


def last_assigned(cur, event_type_id):
    """When round robin last gave each host of the type a booking: {user id: time or None}."""
    cur.execute("SELECT user_id, last_assigned_at FROM event_type_hosts WHERE event_type_id = %(id)s",
                {"id": event_type_id})
    return {row["user_id"]: row["last_assigned_at"] for row in cur.fetchall()}


def assigned(cur, event_type_id, user_id):
    """Round robin gave the host a booking of the type now (the clock's time, not the
    transaction's start: assignments are ordered as they happen)."""
    cur.execute(
        """
        UPDATE event_type_hosts SET last_assigned_at = clock_timestamp()
        WHERE event_type_id = %(id)s AND user_id = %(user_id)s
        """,
        {"id": event_type_id, "user_id": user_id},
    )
