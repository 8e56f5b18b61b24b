"""Seats (migration 024): guests who booked the same start of a seated event type share one
booking (repositories/bookings.py), each in a seat of their own with their own manage token."""


SEAT = ("s.id, s.booking_id, s.guest_name, s.guest_email, s.guest_timezone, coalesce(s.guest_language, 'en') AS "
        "guest_language, s.guest_notes, s.token_salt, s.status, s.no_show")


def open_at(cur, event_type_id, start, *, lock=True):
    """The seated booking of the type at `start` still holding its time, locked (unless told
    otherwise): a guest joining it takes its row first, so seats are counted one at a time;
    None if there is none. Only what joining it needs (its id, host and count), not its guests:
    a full booking's are a thousand rows, read again anyway once the seat is added."""
    cur.execute(
        f"""
        SELECT b.id, b.user_id, b.seats, b.seats_taken FROM bookings b
        WHERE b.event_type_id = %(type_id)s AND b.start_time = %(start)s AND b.seats IS NOT NULL
          AND b.status = 'confirmed'
        {"FOR UPDATE" if lock else ""}
        """,
        {"type_id": event_type_id, "start": start},
    )
    return cur.fetchone()


def taken_between(cur, event_type_id, start, end):
    """{start: (seats taken, capacity)} of the type's seated bookings starting in [start, end)."""
    cur.execute(
        """
        SELECT b.start_time, b.seats_taken, b.seats FROM bookings b
        WHERE b.event_type_id = %(type_id)s AND b.start_time >= %(start)s AND b.start_time < %(end)s
          AND b.seats IS NOT NULL AND b.status = 'confirmed'
        """,
        {"type_id": event_type_id, "start": start, "end": end},
    )
    return {row["start_time"]: (row["seats_taken"], row["seats"]) for row in cur.fetchall()}


def add(cur, booking_id, *, name, email, zone_name, language, notes, token_hash, token_salt):
    """A seat for a guest at the booking, and the booking's count one higher, in one statement;
    the count's CHECK (bookings_seats_within) refuses the seat past the booking's capacity.
    Returns the seat."""
    cur.execute(
        f"""
        WITH counted AS (
            UPDATE bookings SET seats_taken = seats_taken + 1, updated_at = now() WHERE id = %(booking_id)s
            RETURNING id
        )
        INSERT INTO booking_seats AS s (booking_id, guest_name, guest_email, guest_timezone, guest_language,
                                        guest_notes, token_hash, token_salt)
        SELECT counted.id, %(name)s, %(email)s, %(zone)s, %(language)s, %(notes)s, %(hash)s, %(salt)s FROM counted
        RETURNING {SEAT}
        """,
        {"booking_id": booking_id, "name": name, "email": email, "zone": zone_name, "language": language, "notes": notes,
         "hash": token_hash, "salt": token_salt},
    )
    return cur.fetchone()


def cancel(cur, seat_id):
    """The seat given up and its booking's count one lower (both rows locked by the caller), with
    a higher SEQUENCE, which the guest's cancelled copy carries; returns the seat."""
    cur.execute(
        f"""
        WITH freed AS (
            UPDATE booking_seats s SET status = 'cancelled', updated_at = now()
            WHERE s.id = %(id)s AND s.status = 'confirmed'
            RETURNING {SEAT}
        ), counted AS (
            UPDATE bookings b SET seats_taken = seats_taken - 1, sequence = sequence + 1, updated_at = now()
            FROM freed WHERE b.id = freed.booking_id
        )
        SELECT * FROM freed
        """,
        {"id": seat_id},
    )
    return cur.fetchone()


def of(cur, booking_id):
    """The booking's seats still taken, each as its guest is told of the booking."""
    cur.execute(f"SELECT {SEAT} FROM booking_seats s WHERE s.booking_id = %(id)s AND s.status = 'confirmed' "
                "ORDER BY s.id", {"id": booking_id})
    return cur.fetchall()


def mark_no_show(cur, booking_id, seat_id, no_show):
    """Records whether a seat's guest came; None if the booking has no such seat."""
    cur.execute(
        """
        UPDATE booking_seats SET no_show = %(no_show)s, updated_at = now()
        WHERE id = %(seat_id)s AND booking_id = %(booking_id)s AND status = 'confirmed'
        RETURNING id
        """,
        {"booking_id": booking_id, "seat_id": seat_id, "no_show": no_show},
    )
    return cur.fetchone()
