"""One account per person, look-alikes included: every stored `email_key` is recomputed with
the rule that now folds confusable characters to their UTS #39 skeleton
(scheduler/email_addresses.py), so Cyrillic 'асе@' and 'ace@' are one identity.

Accounts can't be merged, so where two existing accounts now share a key both keep working:
one takes the new key, the others keep the key they had, which the new rule never produces
(it holds a character the skeleton folds): their data, bookings, memberships and tokens stay
as they are, but no address finds them (login, member adds, attendees) until their address is
changed. The new key goes to the account whose key it already is (an address with nothing to
fold: the plain spelling, which is what its owner types), else to the oldest. Each such group
is reported with a WARNING naming the ids, as 005 does. Accounts 005 left without a key keep
none. Keys are cleared before they are set, so the unique index never sees two at once.
"""

import logging

from psycopg2.extras import execute_values

from scheduler.email_addresses import identity_key

log = logging.getLogger("scheduler.migrate")


def apply(cur, settings):
    cur.execute("SELECT id, email, email_key FROM users WHERE email_key IS NOT NULL ORDER BY created_at, id")
    claims = {}
    for user_id, email, old_key in cur.fetchall():
        claims.setdefault(identity_key(email), []).append((user_id, old_key))
    changes, look_alikes = [], {}
    for key, accounts in claims.items():
        owner, old_key = next(((user_id, old) for user_id, old in accounts if old == key), accounts[0])
        if old_key != key:
            changes.append((owner, key))
        if len(accounts) > 1:
            look_alikes[owner] = [user_id for user_id, _ in accounts if user_id != owner]
    if changes:
        cur.execute("UPDATE users SET email_key = NULL WHERE id = ANY(%s)", ([user_id for user_id, _ in changes],))
        execute_values(cur, "UPDATE users SET email_key = v.key FROM (VALUES %s) AS v (id, key) WHERE users.id = v.id",
                       changes, page_size=1000)
    for owner, others in look_alikes.items():
        log.warning("e-mail look-alikes: account %s has the address's identity; accounts %s look the same, keep "
                    "their old key and can't be found by e-mail until their address is changed",
                    owner, ", ".join(map(str, others)))
    return look_alikes
