# The guest of a guest booking, and of a seat as its guest sees the booking.
GUEST = """CASE WHEN b.guest_email IS NOT NULL THEN json_build_object(
        'name', b.guest_name, 'email', b.guest_email, 'timezone', b.guest_timezone,
        'language', coalesce(b.guest_language, 'en'), 'notes', b.guest_notes)
    END"""
SEAT_GUEST = """json_build_object('name', s.guest_name, 'email', s.guest_email, 'timezone', s.guest_timezone,
                                 'language', coalesce(s.guest_language, 'en'),
                                 'notes', s.guest_notes)"""


def columns(status="b.status", guest=GUEST):
    """A booking as clients see it; a seat's guest sees its own `status` and `guest`."""
    return f"""b.id, b.user_id, b.title, b.start_time, b.end_time, {status} AS status, b.created_at, b.updated_at,
    b.event_type_id, b.location, {guest} AS guest, b.series_id, b.occurrence, b.expires_at,
    CASE WHEN b.seats IS NOT NULL THEN booking_seats(b.id, b.seats, b.seats_taken) END AS seats,
    CASE WHEN b.guest_no_show OR cardinality(b.no_show_user_ids) > 0
        THEN json_build_object('guest', b.guest_no_show, 'user_ids', b.no_show_user_ids)
        ELSE '{{"guest": false, "user_ids": []}}'::json END AS no_show"""


# insert_booking (sql/functions.sql) returns these too, spelt out: change both together.
COLUMNS = columns()
# What the service needs of a booking but clients never see: the iCalendar SEQUENCE and UID
# (NULL for bookings made before migration 017: see calendar.booking_uid) and the salt a
# guest's manage token is derived from.
INTERNAL_COLUMNS = ("sequence", "calendar_uid", "guest_token_salt")
INTERNAL = ", ".join(f"b.{column}" for column in INTERNAL_COLUMNS)
ATTENDEES = """
    (SELECT json_agg(json_build_object('user_id', a.user_id, 'name', u.name, 'email', u.email,
                                       'status', a.status) ORDER BY a.user_id)
     FROM booking_attendees a JOIN users u ON u.id = a.user_id
     WHERE a.booking_id = b.id) AS attendees"""


NO_GUEST = {"event_type_id": None, "location": None, "buffer_before": 0, "buffer_after": 0, "guest_name": None,
            "guest_email": None, "guest_timezone": None, "guest_language": None, "guest_notes": None,
            "guest_token_hash": None, "guest_token_salt": None}


def create(cur, *, owner_id, title, start, end, invitee_ids=(), status="confirmed", expires_at=None, seats=None,
           **guest_booking):
    """Inserts the booking and its attendees (the owner accepted, others needs-action), confirmed
    or a pending request until `expires_at`, seated (`seats`, its capacity) or not, after
    taking everyone's lock (a caller already holding them loses nothing), through the database
    function `insert_booking` (sql/functions.sql: planned once per connection, not per booking).
    Either exclusion constraint refuses it if anyone would be double-booked, or if the time
    with the booking's buffers would touch someone's commitment or its buffers. A guest booking
    passes the NO_GUEST fields (event type, buffers, guest, token). Returns the booking and its
    recipients (as `recipients` below answers them)."""
    cur.execute(
        """
        SELECT * FROM insert_booking(
            %(owner_id)s, %(people)s, %(title)s, %(start)s, %(end)s, %(event_type_id)s, %(location)s,
            %(buffer_before)s, %(buffer_after)s, %(guest_name)s, %(guest_email)s, %(guest_timezone)s,
            %(guest_notes)s, %(guest_token_hash)s, %(guest_token_salt)s, NULL, NULL, %(status)s, %(expires_at)s,
            %(seats)s, %(guest_language)s)
        """,
        NO_GUEST | guest_booking | {"owner_id": owner_id, "title": title, "start": start, "end": end,
                                    "people": [owner_id, *invitee_ids], "status": status, "expires_at": expires_at,
                                    "seats": seats},
    )
    booking = cur.fetchone()
    return booking, booking.pop("recipients")


def create_occurrences(cur, *, owner_id, title, series_id, occurrences, invitee_ids=(), token_hashes=None,
                       token_salts=None, **guest_booking):
    """Inserts a series' occurrences ([recurrence.Occurrence]) as `create` inserts one booking,
    all in one statement (so one overlap refuses them all); a guest's each get their own
    manage token. Returns the bookings in occurrence order and their recipients (the same
    people for each)."""
    none = [None] * len(occurrences)
    cur.execute(
        """
        SELECT r.* FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[], %(numbers)s::integer[],
                               %(hashes)s::text[], %(salts)s::text[]) WITH ORDINALITY AS o (start, "end", number,
                                                                                           hash, salt, position)
        CROSS JOIN LATERAL insert_booking(
            %(owner_id)s, %(people)s, %(title)s, o.start, o."end", %(event_type_id)s, %(location)s,
            %(buffer_before)s, %(buffer_after)s, %(guest_name)s, %(guest_email)s, %(guest_timezone)s,
            %(guest_notes)s, o.hash, o.salt, %(series_id)s, o.number, 'confirmed', NULL, NULL, %(guest_language)s) r
        ORDER BY o.position
        """,
        NO_GUEST | guest_booking | {
            "owner_id": owner_id, "title": title, "people": [owner_id, *invitee_ids], "series_id": series_id,
            "starts": [o.start for o in occurrences], "ends": [o.end for o in occurrences],
            "numbers": [o.number for o in occurrences], "hashes": token_hashes or none, "salts": token_salts or none},
    )
    rows = cur.fetchall()
    recipients = rows[0]["recipients"]
    for row in rows:
        del row["recipients"]
    return rows, recipients


def find_visible(cur, booking_id, user_id, *, lock=False):
    """The booking if the user is one of its attendees (the owner is one), else None."""
    cur.execute(
        f"""
        SELECT {COLUMNS}, {INTERNAL}, {ATTENDEES}
        FROM bookings b
        JOIN booking_attendees me ON me.booking_id = b.id AND me.user_id = %(user_id)s
        WHERE b.id = %(id)s
        {"FOR UPDATE OF b" if lock else ""}
        """,
        {"id": booking_id, "user_id": user_id},
    )
    return cur.fetchone()


def list_for_attendee(cur, user_id, *, start=None, end=None, status=None, after=None, limit=50):
    """Bookings the user attends, by start time; `after` is the (start_time, id) to continue from."""
    after_start, after_id = after or (None, None)
    cur.execute(
        f"""
        SELECT {COLUMNS}, {ATTENDEES}
        FROM booking_attendees me
        JOIN bookings b ON b.id = me.booking_id
        WHERE me.user_id = %(user_id)s
          AND (%(start)s::timestamptz IS NULL OR me.end_time > %(start)s)
          AND (%(end)s::timestamptz IS NULL OR me.start_time < %(end)s)
          AND (%(status)s::text IS NULL OR b.status = %(status)s)
          AND (%(after_start)s::timestamptz IS NULL OR (me.start_time, me.booking_id) > (%(after_start)s, %(after_id)s))
        ORDER BY me.start_time, me.booking_id
        LIMIT %(limit)s
        """,
        {"user_id": user_id, "start": start, "end": end, "status": status,
         "after_start": after_start, "after_id": after_id, "limit": limit},
    )
    return cur.fetchall()


def update(cur, booking_id, *, title, start, end):
    cur.execute(
        f"""
        UPDATE bookings b
        SET title = %(title)s, start_time = %(start)s, end_time = %(end)s,
            sequence = sequence + 1, updated_at = now()
        WHERE id = %(id)s
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"id": booking_id, "title": title, "start": start, "end": end},
    )
    return cur.fetchone()


def cancel(cur, booking_id, owner_id):
    cur.execute(
        f"""
        UPDATE bookings b
        SET status = 'cancelled', expires_at = NULL, sequence = sequence + 1, updated_at = now()
        WHERE id = %(id)s AND user_id = %(owner_id)s AND status IN ('confirmed', 'pending')
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"id": booking_id, "owner_id": owner_id},
    )
    return cur.fetchone()


def cancel_many(cur, booking_ids):
    """Cancels these bookings (locked by the caller) where still confirmed; returns those it
    cancelled, by id."""
    cur.execute(
        f"""
        UPDATE bookings b
        SET status = 'cancelled', sequence = sequence + 1, updated_at = now()
        WHERE id = ANY(%(ids)s) AND status = 'confirmed'
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"ids": list(booking_ids)},
    )
    return sorted(cur.fetchall(), key=lambda b: b["id"])


def rename_many(cur, booking_ids, title):
    """Gives these bookings (locked by the caller) a new title; returns them, by id."""
    cur.execute(
        f"""
        UPDATE bookings b
        SET title = %(title)s, sequence = sequence + 1, updated_at = now()
        WHERE id = ANY(%(ids)s)
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"ids": list(booking_ids), "title": title},
    )
    return sorted(cur.fetchall(), key=lambda b: b["id"])


def set_attendance(cur, booking_id, user_id, status):
    """Records an attendee's answer. The attendee list is part of the booking, so the booking's
    updated_at moves too (and with it its ETag and what sync reports); returns the booking."""
    cur.execute(
        """
        UPDATE booking_attendees SET status = %(status)s
        WHERE booking_id = %(booking_id)s AND user_id = %(user_id)s
        """,
        {"booking_id": booking_id, "user_id": user_id, "status": status},
    )
    cur.execute(f"UPDATE bookings b SET updated_at = now() WHERE id = %(id)s RETURNING {COLUMNS}, {INTERNAL}",
                {"id": booking_id})
    return cur.fetchone()


def commitments(cur, user_ids, start, end, *, excluding=None):
    """Confirmed, not-declined bookings of these people blocking time in [start, end): who,
    and the time each blocks (the booking with its buffers)."""
    cur.execute(
        """
        SELECT b.user_id, u.name, u.email, b.start_time, b.end_time
        FROM blocked_time(%(user_ids)s, %(start)s, %(end)s, %(excluding)s) b JOIN users u ON u.id = b.user_id
        WHERE b.source = 'booking'
        ORDER BY b.start_time, b.user_id
        """,
        {"user_ids": list(user_ids), "start": start, "end": end, "excluding": excluding},
    )
    return cur.fetchall()


def type_counts(cur, event_type_id, hosts, start, end, *, excluding=None):
    """Bookings of the type holding time (confirmed or pending) starting in [start, end) that each host attends, per
    local date in their zone: {host id: {date: bookings}}, for `hosts` as [(user id, zone)]."""
    cur.execute(
        """
        SELECT a.user_id, (b.start_time AT TIME ZONE h.zone)::date AS day, count(*) AS bookings
        FROM bookings b
        JOIN booking_attendees a ON a.booking_id = b.id AND a.status <> 'declined'
        JOIN unnest(%(ids)s::bigint[], %(zones)s::text[]) AS h (id, zone) ON h.id = a.user_id
        WHERE b.event_type_id = %(type_id)s AND b.status IN ('confirmed', 'pending')
          AND b.start_time >= %(start)s AND b.start_time < %(end)s
          AND b.id IS DISTINCT FROM %(excluding)s
        GROUP BY a.user_id, day
        """,
        {"type_id": event_type_id, "ids": [i for i, _ in hosts], "zones": [z for _, z in hosts],
         "start": start, "end": end, "excluding": excluding},
    )
    counts = {}
    for row in cur.fetchall():
        counts.setdefault(row["user_id"], {})[row["day"]] = row["bookings"]
    return counts


def find_by_guest_token(cur, token_hash, *, lock=False):
    """The guest booking whose manage token (or one of whose seats' tokens) hashes to this, or
    None; with its host's name, the names of the hosts attending it (`hosts`, a team's may be
    several), everyone attending it (`people`, for their locks), the kind of its team type
    (`team_kind`, null for a person's type or none), the type's notices (0 once it is gone) and
    its description as its booking page shows it (`description`, null once it is gone).
    Through a seat, it is the booking as that seat's guest has it: their seat (`seat_id`) is its
    guest, their token's salt its salt, and their cancelled seat a cancelled booking."""
    return guest_booking(cur, token_hash, lock) or guest_booking(cur, token_hash, lock, seat=True)


def guest_booking(cur, token_hash, lock, *, seat=False):
    """find_by_guest_token's query, by the booking's token or (`seat`) by one of its seats'."""
    cur.execute(
        f"""
        SELECT {columns("CASE WHEN s.status = 'cancelled' THEN 'cancelled' ELSE b.status END", SEAT_GUEST)
                if seat else COLUMNS}, b.sequence, b.calendar_uid, {"s.token_salt" if seat else "b.guest_token_salt"}
               AS guest_token_salt, {"s.id" if seat else "NULL::bigint"} AS seat_id,
               h.name AS host_name, t.kind AS team_kind, t.description,
               coalesce(t.cancel_notice, 0) AS cancel_notice, coalesce(t.reschedule_notice, 0) AS reschedule_notice,
               (SELECT json_agg(json_build_object('name', u.name) ORDER BY a.user_id)
                FROM booking_attendees a JOIN users u ON u.id = a.user_id
                WHERE a.booking_id = b.id AND a.status <> 'declined') AS hosts,
               ARRAY(SELECT a.user_id FROM booking_attendees a WHERE a.booking_id = b.id ORDER BY a.user_id) AS people
        FROM bookings b {"JOIN booking_seats s ON s.booking_id = b.id" if seat else ""}
        JOIN users h ON h.id = b.user_id LEFT JOIN event_types t ON t.id = b.event_type_id
        WHERE {"s.token_hash" if seat else "b.guest_token_hash"} = %(hash)s
        {("FOR UPDATE OF b, s" if seat else "FOR UPDATE OF b") if lock else ""}
        """,
        {"hash": token_hash},
    )
    return cur.fetchone()


def reassign(cur, booking_id, previous, host, *, start, end):
    """Moves a round-robin booking to [start, end) with another host: `host` attends it instead
    of `previous` and becomes its owner. The previous host's row goes before the booking moves
    and the new host's comes after, so neither is checked at the other's times."""
    cur.execute("DELETE FROM booking_attendees WHERE booking_id = %(id)s AND user_id = %(previous)s",
                {"id": booking_id, "previous": previous})
    cur.execute(
        f"""
        UPDATE bookings b
        SET user_id = %(host)s, start_time = %(start)s, end_time = %(end)s, sequence = sequence + 1, updated_at = now()
        WHERE id = %(id)s
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"id": booking_id, "host": host, "start": start, "end": end},
    )
    booking = cur.fetchone()
    cur.execute(
        """
        INSERT INTO booking_attendees (booking_id, user_id, status, start_time, end_time, confirmed, block_start,
                                       block_end)
        SELECT b.id, %(host)s, 'accepted', b.start_time, b.end_time, true,
               b.start_time - make_interval(mins => b.buffer_before), b.end_time + make_interval(mins => b.buffer_after)
        FROM bookings b WHERE b.id = %(id)s
        """,
        {"id": booking_id, "host": host},
    )
    return booking


def recipients(cur, booking_id):
    """The booking's attendees with what their emails and reminders need, by user id."""
    cur.execute(
        """
        SELECT u.id AS user_id, u.name, u.email, u.timezone, u.reminders, a.status
        FROM booking_attendees a JOIN users u ON u.id = a.user_id
        WHERE a.booking_id = %(booking_id)s
        ORDER BY u.id
        """,
        {"booking_id": booking_id},
    )
    return cur.fetchall()


def recipients_of(cur, booking_ids):
    """`recipients` of each of these bookings: {booking id: [attendee, ...]}."""
    cur.execute(
        """
        SELECT a.booking_id, u.id AS user_id, u.name, u.email, u.timezone, u.reminders, a.status
        FROM booking_attendees a JOIN users u ON u.id = a.user_id
        WHERE a.booking_id = ANY(%(ids)s)
        ORDER BY a.booking_id, u.id
        """,
        {"ids": list(booking_ids)},
    )
    found = {}
    for row in cur.fetchall():
        found.setdefault(row.pop("booking_id"), []).append(row)
    return found


def calendar_for(cur, user_id):
    """Everything the user attends and has not declined, for their calendar feed."""
    cur.execute(
        f"""
        SELECT {COLUMNS}, {INTERNAL}, {ATTENDEES}
        FROM booking_attendees me JOIN bookings b ON b.id = me.booking_id
        WHERE me.user_id = %(user_id)s AND me.status <> 'declined'
        ORDER BY me.start_time, me.booking_id
        """,
        {"user_id": user_id},
    )
    return cur.fetchall()


def snapshot(cur):
    """The database's current snapshot, as text: which transactions have committed."""
    cur.execute("SELECT pg_current_snapshot()::text AS snapshot")
    return cur.fetchone()["snapshot"]


def changed_for_attendee(cur, user_id, *, since, upto, after, limit):
    """Bookings the user attends whose last change (booking_attendees.changed_xid) is visible in
    snapshot `upto` but not in `since` (every one, when `since` is None), in (changed_xid,
    booking_id) order after `after`. Each row carries its changed_xid (an int) for paging."""
    # Every transaction below `since`'s xmin is visible in it: start the index range there.
    after_xid, after_id = max(after or (0, 0), (int(since.split(":")[0]), 0) if since else (0, 0))
    cur.execute(
        f"""
        SELECT {COLUMNS}, {ATTENDEES}, me.changed_xid::text::bigint AS changed_xid
        FROM booking_attendees me
        JOIN bookings b ON b.id = me.booking_id
        WHERE me.user_id = %(user_id)s
          AND (me.changed_xid, me.booking_id) > (%(after_xid)s::text::xid8, %(after_id)s)
          AND me.changed_xid < pg_snapshot_xmax(%(upto)s::pg_snapshot)
          AND pg_visible_in_snapshot(me.changed_xid, %(upto)s::pg_snapshot)
          AND (%(since)s::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(me.changed_xid, %(since)s::pg_snapshot))
        ORDER BY me.changed_xid, me.booking_id
        LIMIT %(limit)s
        """,
        {"user_id": user_id, "since": since, "upto": upto, "after_xid": after_xid, "after_id": after_id,
         "limit": limit},
    )
    return cur.fetchall()


def upcoming_guest_links_by_key(cur, now):
    """{key id: manage links of guest bookings (or seats) holding time and not yet over}, by the
    key id their salt names (scheduler/links.py; "" for salts from before SECRET_KEYS)."""
    cur.execute(
        """
        SELECT CASE WHEN strpos(salt, '.') > 0 THEN split_part(salt, '.', 1) ELSE '' END AS key_id,
               count(*) AS bookings
        FROM (SELECT guest_token_salt AS salt FROM bookings
              WHERE guest_token_salt IS NOT NULL AND status IN ('confirmed', 'pending') AND end_time > %(now)s
              UNION ALL
              SELECT s.token_salt FROM booking_seats s JOIN bookings b ON b.id = s.booking_id
              WHERE s.status = 'confirmed' AND b.status = 'confirmed' AND b.end_time > %(now)s) AS links
        GROUP BY 1
        """,
        {"now": now},
    )
    return {row["key_id"]: row["bookings"] for row in cur.fetchall()}


def answer_request(cur, booking_id, status, now):
    """A pending request (locked by the caller) confirmed or declined; None unless it is still
    pending and unexpired at `now`. Its SEQUENCE stays: its first invitation is the one sent now."""
    cur.execute(
        f"""
        UPDATE bookings b SET status = %(status)s, expires_at = NULL, updated_at = now()
        WHERE id = %(id)s AND status = 'pending' AND expires_at > %(now)s
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"id": booking_id, "status": status, "now": now},
    )
    return cur.fetchone()


def expire_requests(cur, now, *, limit):
    """Up to `limit` pending requests past their time at `now`, expired; ones locked by a confirm
    or a decline under way are left to it (and to the next sweep)."""
    cur.execute(
        f"""
        WITH due AS (
            SELECT id FROM bookings
            WHERE status = 'pending' AND expires_at <= %(now)s
            ORDER BY expires_at
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        )
        UPDATE bookings b SET status = 'expired', updated_at = now()
        FROM due WHERE b.id = due.id
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"limit": limit, "now": now},
    )
    return cur.fetchall()


def mark_no_show(cur, booking_id, *, guest=None, user_id=None, no_show=True):
    """Records whether the booking's guest (`guest`) or an attendee (`user_id`) came."""
    cur.execute(
        f"""
        UPDATE bookings b
        SET guest_no_show = coalesce(%(guest)s, guest_no_show),
            no_show_user_ids = CASE
                WHEN %(user_id)s::bigint IS NULL THEN no_show_user_ids
                WHEN %(no_show)s THEN ARRAY(SELECT DISTINCT u FROM unnest(no_show_user_ids || %(user_id)s::bigint) u
                                            ORDER BY u)
                ELSE array_remove(no_show_user_ids, %(user_id)s::bigint) END,
            updated_at = now()
        WHERE id = %(id)s
        RETURNING {COLUMNS}, {INTERNAL}
        """,
        {"id": booking_id, "guest": guest, "user_id": user_id, "no_show": no_show},
    )
    return cur.fetchone()
