COLUMNS = "id, user_id, title, start_time, end_time, status, created_at, updated_at"


def insert(cur, *, owner_id, title, start, end):
    cur.execute(
        f"""
        INSERT INTO bookings (user_id, title, start_time, end_time)
        VALUES (%(owner_id)s, %(title)s, %(start)s, %(end)s)
        RETURNING {COLUMNS}
        """,
        {"owner_id": owner_id, "title": title, "start": start, "end": end},
    )
    return cur.fetchone()


def list_for_user(cur, owner_id):
    cur.execute(
        f"SELECT {COLUMNS} FROM bookings WHERE user_id = %(owner_id)s ORDER BY start_time DESC, id DESC",
        {"owner_id": owner_id},
    )
    return cur.fetchall()


def find_for_user(cur, booking_id, owner_id, *, lock=False):
    cur.execute(
        f"""
        SELECT {COLUMNS} FROM bookings
        WHERE id = %(id)s AND user_id = %(owner_id)s
        {"FOR UPDATE" if lock else ""}
        """,
        {"id": booking_id, "owner_id": owner_id},
    )
    return cur.fetchone()


def update(cur, booking_id, *, title, start, end):
    cur.execute(
        f"""
        UPDATE bookings
        SET title = %(title)s, start_time = %(start)s, end_time = %(end)s, updated_at = now()
        WHERE id = %(id)s
        RETURNING {COLUMNS}
        """,
        {"id": booking_id, "title": title, "start": start, "end": end},
    )
    return cur.fetchone()


def cancel(cur, booking_id, owner_id):
    cur.execute(
        f"""
        UPDATE bookings
        SET status = 'cancelled', updated_at = now()
        WHERE id = %(id)s AND user_id = %(owner_id)s AND status = 'confirmed'
        RETURNING {COLUMNS}
        """,
        {"id": booking_id, "owner_id": owner_id},
    )
    return cur.fetchone()
