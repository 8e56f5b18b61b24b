"""Recurring series (migration 023): the rule that made a series' occurrences, and the
occurrences themselves, which are bookings (repositories/bookings.py)."""

from psycopg2.extras import Json

from .bookings import ATTENDEES, COLUMNS, INTERNAL

SERIES = "s.id, s.user_id, s.recurrence, s.timezone, s.starts, s.calendar_uid, s.created_at"


def insert(cur, *, user_id, recurrence, zone_name, starts):
    cur.execute(
        f"""
        INSERT INTO booking_series AS s (user_id, recurrence, timezone, starts)
        VALUES (%(user_id)s, %(recurrence)s, %(zone)s, %(starts)s::timestamptz[])
        RETURNING {SERIES}
        """,
        {"user_id": user_id, "recurrence": Json(recurrence), "zone": zone_name, "starts": list(starts)},
    )
    return cur.fetchone()


def lock(cur, series_id):
    """The series, locked: writes to several of its occurrences at once take it first (then
    the occurrences' rows in id order, then the people's locks), so two never meet halfway."""
    cur.execute(f"SELECT {SERIES} FROM booking_series s WHERE s.id = %(id)s FOR UPDATE", {"id": series_id})
    return cur.fetchone()


def find(cur, series_ids):
    """{id: series} for these series."""
    cur.execute(f"SELECT {SERIES} FROM booking_series s WHERE s.id = ANY(%(ids)s)", {"ids": list(series_ids)})
    return {row["id"]: row for row in cur.fetchall()}


def locked_occurrences(cur, series_id, *, first=1):
    """The series' bookings from occurrence `first` on, with their attendees, their rows locked
    in id order (the same as occurrence order: they are inserted so)."""
    cur.execute(
        f"""
        SELECT {COLUMNS}, {INTERNAL}, {ATTENDEES}
        FROM bookings b
        WHERE b.series_id = %(series_id)s AND b.occurrence >= %(first)s
        ORDER BY b.id
        FOR UPDATE OF b
        """,
        {"series_id": series_id, "first": first},
    )
    return cur.fetchall()


def calendar_of(cur, bookings):
    """What calendar.events_of needs besides `bookings`: their series and all the bookings of
    each ({id: row}, {id: [booking]})."""
    ids = {b["series_id"] for b in bookings if b["series_id"] is not None}
    return (find(cur, ids), occurrences_of(cur, ids)) if ids else ({}, {})


def later(cur, booking, after):
    """How many occurrences after `booking` in its series are still confirmed and start after `after`."""
    cur.execute(
        """
        SELECT count(*) AS later FROM bookings b
        WHERE b.series_id = %(series_id)s AND b.occurrence > %(occurrence)s AND b.status = 'confirmed'
          AND b.start_time > %(after)s
        """,
        {"series_id": booking["series_id"], "occurrence": booking["occurrence"], "after": after},
    )
    return cur.fetchone()["later"]


def occurrences_of(cur, series_ids):
    """{series id: its bookings, by occurrence, with their attendees}, for calendars."""
    cur.execute(
        f"""
        SELECT {COLUMNS}, {INTERNAL}, {ATTENDEES}
        FROM bookings b
        WHERE b.series_id = ANY(%(ids)s)
        ORDER BY b.series_id, b.occurrence
        """,
        {"ids": list(series_ids)},
    )
    found = {}
    for row in cur.fetchall():
        found.setdefault(row["series_id"], []).append(row)
    return found
