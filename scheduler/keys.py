"""Secrets made from secrets: the keys this service derives from JWT_SECRET, and how it stores
a credential it hands out (a manage token, a feed secret) so that the database alone can't
give it back.

Each use of a secret gets its own key, derived with a purpose label, so no two uses can ever
verify each other's output. JWT_SECRET keys login tokens, sync tokens and the manage links of
bookings made before SECRET_KEYS (scheduler/links.py): rotating it voids those, and nothing
that scheduler/keyring.py's ring keys.
"""

import hashlib
import hmac


def derived_key(secret, purpose):
    """A 256-bit key for one purpose (an HMAC of the label under the secret: a str such as
    JWT_SECRET, or a ring key's bytes)."""
    return hmac.new(secret if isinstance(secret, bytes) else secret.encode(), purpose.encode(), hashlib.sha256).digest()


def token_hash(token):
    """What the database keeps of a credential: its SHA-256, enough to look it up by."""
    return hashlib.sha256(token.encode()).hexdigest()
