"""Webhook signing secrets sealed with SECRET_KEYS, and idempotency records moved from a key
derived from JWT_SECRET onto the ring (scheduler/keyring.py, scheduler/sealing.py).

A Python migration because the keys are in the environment, not the database. The plain-text
secret columns are dropped in the same transaction: no copy outlives the deploy. Records that
no longer open under JWT_SECRET (it changed within IDEMPOTENCY_TTL) are left as they are: they
answered 422 before and still do, until they expire.
"""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg2.extras import execute_values

from scheduler.keys import derived_key
from scheduler.sealing import WEBHOOK_SECRET, idempotency_record


def apply(cur, settings):
    ring = settings.secret_keys
    cur.execute("""
        ALTER TABLE webhook_endpoints ADD COLUMN secret_sealed bytea, ADD COLUMN previous_secret_sealed bytea
    """)
    cur.execute("SELECT id, secret, previous_secret FROM webhook_endpoints")
    sealed = [(endpoint_id, ring.seal_text(secret, WEBHOOK_SECRET),
               previous and ring.seal_text(previous, WEBHOOK_SECRET)) for endpoint_id, secret, previous in cur.fetchall()]
    execute_values(cur, """
        UPDATE webhook_endpoints e SET secret_sealed = v.secret, previous_secret_sealed = v.previous
        FROM (VALUES %s) AS v (id, secret, previous) WHERE e.id = v.id
    """, sealed, template="(%s, %s::bytea, %s::bytea)", page_size=1000)
    cur.execute("""
        ALTER TABLE webhook_endpoints DROP COLUMN secret, DROP COLUMN previous_secret,
            ALTER COLUMN secret_sealed SET NOT NULL
    """)

    old_key = derived_key(settings.jwt_secret, "scheduler idempotency records")
    cur.execute("SELECT scope, key, body FROM idempotency_keys")
    resealed = []
    for scope, key, body in cur.fetchall():
        body = bytes(body)
        try:
            plain = AESGCM(old_key).decrypt(body[:12], body[12:], f"{scope} {key}".encode())
        except InvalidTag:
            continue
        resealed.append((scope, key, ring.seal(plain, idempotency_record(scope, key))))
    execute_values(cur, """
        UPDATE idempotency_keys i SET body = v.body FROM (VALUES %s) AS v (scope, key, body)
        WHERE i.scope = v.scope AND i.key = v.key
    """, resealed, template="(%s, %s, %s::bytea)", page_size=1000)
