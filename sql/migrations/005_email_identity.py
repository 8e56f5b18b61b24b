"""One account per person: e-mail addresses are unique by `identity_key` (NFKC, case-folded,
hidden characters dropped; scheduler/email_addresses.py) instead of by lower(email).

A Python migration because the key is defined once, in Python: SQL's lower() folds
differently (and differently per collation), and two definitions are how 'İan@' got past
the login limiter. Accounts whose addresses already collide are reported, not refused: the
oldest keeps the address; the others keep their data and tokens but no key, so nobody can
log in as them or find them by that address until their address is changed.
"""

import logging

from psycopg2.extras import execute_values

from scheduler.email_addresses import identity_key

log = logging.getLogger("scheduler.migrate")


def apply(cur, settings):
    cur.execute("ALTER TABLE users ADD COLUMN email_key text")
    cur.execute("SELECT id, email FROM users ORDER BY created_at, id")
    owner_of, look_alikes = {}, {}
    for user_id, email in cur.fetchall():
        key = identity_key(email)
        if key in owner_of:
            look_alikes.setdefault(owner_of[key], []).append(user_id)
        else:
            owner_of[key] = user_id
    execute_values(cur, "UPDATE users SET email_key = v.key FROM (VALUES %s) AS v (id, key) WHERE users.id = v.id",
                   [(user_id, key) for key, user_id in owner_of.items()], page_size=1000)
    cur.execute("DROP INDEX IF EXISTS users_email_lower_key")
    cur.execute("CREATE UNIQUE INDEX users_email_key_unique ON users (email_key)")
    for owner, others in look_alikes.items():
        log.warning("e-mail look-alikes: account %s keeps its address; accounts %s have the same e-mail identity "
                    "and can't log in until their address is changed", owner, ", ".join(map(str, others)))
    return look_alikes
