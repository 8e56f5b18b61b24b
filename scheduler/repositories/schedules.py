"""A person's schedules (weekly hours in a zone) and their date overrides.

The default schedule has no zone or hours of its own: they are its person's (users.timezone,
users.working_hours), so reads take them from there and changes to them go there
(sql/migrations/018_host_week.sql)."""

from psycopg2.extras import Json

# A schedule with its zone, hours and overrides ({"YYYY-MM-DD": hours}, all of them: which
# are still shown depends on the schedule's zone, which the caller knows) as
# sql/functions.sql's schedule_hours reads them, the default one's from its person.
COLUMNS = 's.id, s.name, h.timezone, h.working_hours, s.is_default AS "default", h.overrides'
HOURS = "CROSS JOIN LATERAL schedule_hours(s.user_id, s.id) h"


def insert(cur, *, user_id, name, timezone, working_hours):
    cur.execute(
        """
        INSERT INTO schedules (user_id, name, timezone, working_hours)
        VALUES (%(user_id)s, %(name)s, %(timezone)s, %(working_hours)s)
        RETURNING id, name, timezone, working_hours, is_default AS "default", '{}'::jsonb AS overrides
        """,
        {"user_id": user_id, "name": name, "timezone": timezone, "working_hours": Json(working_hours)},
    )
    return cur.fetchone()


def list_for_user(cur, user_id):
    """The default one first, then the others in the order they were made."""
    cur.execute(
        f"""
        SELECT {COLUMNS} FROM schedules s {HOURS}
        WHERE s.user_id = %(user_id)s
        ORDER BY s.is_default DESC, s.id
        """,
        {"user_id": user_id},
    )
    return cur.fetchall()


def find_own(cur, schedule_id, user_id, *, lock=False):
    """The user's schedule, or None if they have no such schedule. `lock`: the schedule row
    FOR UPDATE, so that one change at a time counts its overrides or deletes it."""
    cur.execute(
        f"""
        SELECT {COLUMNS} FROM schedules s {HOURS}
        WHERE s.id = %(id)s AND s.user_id = %(user_id)s
        {"FOR UPDATE OF s" if lock else ""}
        """,
        {"id": schedule_id, "user_id": user_id},
    )
    return cur.fetchone()


def hold_own(cur, schedule_id, user_id):
    """True if the schedule is the user's; it then can't be deleted until the transaction ends
    (FOR KEY SHARE, as the event type's foreign key will take it), so that an event type about to
    use it gets it, not a foreign key violation."""
    cur.execute("SELECT 1 FROM schedules WHERE id = %(id)s AND user_id = %(user_id)s FOR KEY SHARE",
                {"id": schedule_id, "user_id": user_id})
    return cur.rowcount == 1


def update(cur, schedule_id, user_id, *, name=None, timezone=None, working_hours=None):
    """Changes the given fields (None leaves one as it is) of the user's schedule; the default
    one's zone and hours are the user's own, changed there. False if they have no such schedule."""
    cur.execute(
        """
        WITH schedule AS (
            UPDATE schedules s
            SET name = coalesce(%(name)s, s.name),
                timezone = CASE WHEN s.is_default THEN NULL ELSE coalesce(%(timezone)s, s.timezone) END,
                working_hours = CASE WHEN s.is_default THEN NULL ELSE coalesce(%(working_hours)s, s.working_hours) END,
                updated_at = now()
            WHERE s.id = %(id)s AND s.user_id = %(user_id)s
            RETURNING s.user_id, s.is_default
        ), person AS (
            UPDATE users u
            SET timezone = coalesce(%(timezone)s, u.timezone),
                working_hours = coalesce(%(working_hours)s, u.working_hours),
                updated_at = now()
            FROM schedule
            WHERE u.id = schedule.user_id AND schedule.is_default
              AND (%(timezone)s IS NOT NULL OR %(working_hours)s IS NOT NULL)
        )
        SELECT 1 FROM schedule
        """,
        {"id": schedule_id, "user_id": user_id, "name": name, "timezone": timezone,
         "working_hours": Json(working_hours) if working_hours is not None else None},
    )
    return cur.rowcount == 1


def event_types_using(cur, schedule_id):
    cur.execute("SELECT id, slug, title FROM event_types WHERE schedule_id = %(id)s ORDER BY id",
                {"id": schedule_id})
    return cur.fetchall()


def delete(cur, schedule_id):
    cur.execute("DELETE FROM schedules WHERE id = %(id)s", {"id": schedule_id})


def forget_overrides_before(cur, schedule_id, day):
    """Deletes the schedule's overrides of dates before `day`: past, no longer shown or counted."""
    cur.execute("DELETE FROM schedule_overrides WHERE schedule_id = %(id)s AND day < %(day)s",
                {"id": schedule_id, "day": day})


def count_overrides(cur, schedule_id, *, since, besides):
    """How many overrides the schedule has for dates from `since` on, other than `besides`."""
    cur.execute(
        """
        SELECT count(*) AS overrides FROM schedule_overrides
        WHERE schedule_id = %(id)s AND day >= %(since)s AND day <> %(besides)s
        """,
        {"id": schedule_id, "since": since, "besides": besides},
    )
    return cur.fetchone()["overrides"]


def set_override(cur, schedule_id, day, hours):
    cur.execute(
        """
        INSERT INTO schedule_overrides (schedule_id, day, hours) VALUES (%(id)s, %(day)s, %(hours)s)
        ON CONFLICT (schedule_id, day) DO UPDATE SET hours = excluded.hours
        """,
        {"id": schedule_id, "day": day, "hours": Json(hours)},
    )


def delete_override(cur, schedule_id, user_id, day):
    """False if the user has no such schedule, or it has no override of that date."""
    cur.execute(
        """
        DELETE FROM schedule_overrides o USING schedules s
        WHERE o.schedule_id = s.id AND s.id = %(id)s AND s.user_id = %(user_id)s AND o.day = %(day)s
        """,
        {"id": schedule_id, "user_id": user_id, "day": day},
    )
    return cur.rowcount == 1
