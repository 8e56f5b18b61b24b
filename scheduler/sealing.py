"""What the service seals with SECRET_KEYS (scheduler/keyring.py), and moving it all onto the
ring's current key when keys rotate (`flask --app wsgi rotate-secrets`).

Sealed: webhook signing secrets (current and previous), idempotency records' bodies and
external calendars' passwords. Guests' manage tokens are not stored at all: each booking's salt
names the key its token is derived with, so they can't be re-sealed; `old_key_use` counts the
upcoming bookings whose links still need an old key. A new kind of secret gets a purpose here
and a step in `reseal`.
"""

from .repositories import bookings, calendars, idempotency, webhooks
from .keyring import SealError, sealed_prefix

WEBHOOK_SECRET = "webhook secret"
CALENDAR_PASSWORD = "calendar password"
BATCH = 500


def idempotency_record(scope, key):
    """An idempotency record's body is sealed for that record alone."""
    return f"idempotency {scope} {key}"


def reseal(db, ring):
    """Seals every value under an older key again under the current one, a batch per
    transaction; returns {what: (resealed, unopenable)}. Values it can't open (their key is no
    longer in the ring) are left as they are and counted."""
    prefix = sealed_prefix(ring.current_id)
    return {
        "webhook secrets": batches(db, lambda cur, after: webhooks.sealed_secrets_not_under(
            cur, prefix, after=after, limit=BATCH), lambda cur, row: reseal_webhook(cur, ring, row)),
        "idempotency records": batches(db, lambda cur, after: idempotency.bodies_not_under(
            cur, prefix, after=after, limit=BATCH), lambda cur, row: reseal_record(cur, ring, row)),
        "calendar passwords": batches(db, lambda cur, after: calendars.sealed_passwords_not_under(
            cur, prefix, after=after, limit=BATCH), lambda cur, row: calendars.set_sealed_password(
                cur, row["id"], ring.reseal(row["password_sealed"], CALENDAR_PASSWORD))),
    }


def batches(db, take, redo):
    resealed = unopenable = 0
    after = None
    while True:
        with db.transaction() as cur:
            rows = take(cur, after)
            for row in rows:
                try:
                    redo(cur, row)
                    resealed += 1
                except SealError:
                    unopenable += 1
        if len(rows) < BATCH:
            return resealed, unopenable
        after = rows[-1]["position"]


def reseal_webhook(cur, ring, row):
    previous = row["previous_secret_sealed"]
    webhooks.set_sealed_secrets(
        cur, row["id"], secret_sealed=ring.reseal(row["secret_sealed"], WEBHOOK_SECRET) or row["secret_sealed"],
        previous_secret_sealed=previous and (ring.reseal(previous, WEBHOOK_SECRET) or previous))


def reseal_record(cur, ring, row):
    purpose = idempotency_record(row["scope"], row["key"])
    idempotency.set_body(cur, scope=row["scope"], key=row["key"], body=ring.reseal(row["body"], purpose))


def old_key_use(cur, ring, now):
    """{key id: upcoming guest bookings whose manage links need it}, for every key but the
    current one ("" is JWT_SECRET, for bookings made before the key ring)."""
    use = bookings.upcoming_guest_links_by_key(cur, now)
    return {key_id: count for key_id, count in use.items() if key_id != ring.current_id}
