"""The one lock order for calendars.

Every write that touches people's time (creating, moving or cancelling a booking, answering
an invitation, guest bookings, limits, time off) first takes the locks of everyone whose time
it may change (`lock_people`; `bookings.create` takes them itself), after locking the booking
row it changes (if any) and before writing anything else. The locks are PostgreSQL
transaction-scoped advisory locks, one per person, taken in ascending user id and released
at commit or rollback. Since every writer takes them in that one order, writers over
overlapping people queue instead of deadlocking, and the second one sees the first one's
committed rows, so the exclusion constraints answer it with a clean violation (409). The
constraints stay the final word; the locks only make the wait orderly.

A write to several occurrences of a series locks the series row first, then their booking
rows in id order, then the people (repositories/series.py `lock`); one to a single occurrence
locks only its row, as for any booking.

A team booking's write then holds its hosts' memberships (FOR KEY SHARE), so a host leaving
the team meanwhile waits for it; removing a member takes no person's lock, so the two never
wait for each other in a circle.

Key space: the single-key (bigint) advisory lock space is people's, keyed by user id. Any
other advisory lock uses the two-key form, with its own first key from `NAMESPACES`.
"""

# First keys of two-key advisory locks, one per purpose, so none collides with a person's.
NAMESPACES = {"migrate": 1, "idempotency": 2, "retention": 3}


def lock_people(cur, user_ids):
    """Waits for and takes each person's lock, in ascending user id, until the transaction ends.

    The database function of the same name sorts the ids and takes the locks (sql/functions.sql);
    `bookings.create` takes them through it too, in the statement that writes the booking."""
    if user_ids:
        cur.execute("SELECT lock_people(%(ids)s::bigint[])", {"ids": list(user_ids)})


def lock_named(cur, name):
    """The transaction-scoped lock of one purpose from `NAMESPACES` (e.g. one migration run at a time)."""
    cur.execute("SELECT pg_advisory_xact_lock(%(namespace)s, 0)", {"namespace": NAMESPACES[name]})


def try_lock_named(cur, name):
    """Like `lock_named`, but answers False at once instead of waiting if it is taken."""
    cur.execute("SELECT pg_try_advisory_xact_lock(%(namespace)s, 0) AS locked", {"namespace": NAMESPACES[name]})
    return cur.fetchone()["locked"]
