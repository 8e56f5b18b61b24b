"""API keys: what one looks like, and the scopes one can hold (docs/api-keys.md).

A key is `schd_`, 43 base62 characters of randomness (256 bits) and 6 of a CRC-32 over them,
as GitHub's tokens are: a key with a typo fails the checksum and is refused without a query,
and a secret scanner given the pattern finds ours (a prefix of our own: `sk_live_` is
Stripe's, and scanners would report our keys as theirs). The first 13 characters are its
prefix, shown in lists and logs to tell keys apart; the database keeps only the key's SHA-256."""

import hashlib
import secrets
import string
import zlib

PREFIX = "schd_"
ALPHABET = string.digits + string.ascii_letters
RANDOM_LENGTH, CHECKSUM_LENGTH, SHOWN = 43, 6, 13
LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH

SCOPES = (
    "bookings:read", "bookings:write",
    "event-types:read", "event-types:write",
    "schedules:read", "schedules:write",
    "calendars:read", "calendars:write",
    "webhooks:read", "webhooks:write",
    "organizations:read", "organizations:write",
    "profile:read", "profile:write",
)


def base62(number, length):
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def checksum(random_part):
    return base62(zlib.crc32(random_part.encode()), CHECKSUM_LENGTH)


def new_key():
    random_part = base62(secrets.randbits(256), RANDOM_LENGTH)
    return PREFIX + random_part + checksum(random_part)


def looks_like_key(credential):
    """Whether a bearer credential is meant as a key (else it is taken as a login token)."""
    return credential.startswith(PREFIX)


def well_formed(key):
    """Length, alphabet and checksum: a key this service could have made."""
    body = key[len(PREFIX):]
    if len(key) != LENGTH or not key.startswith(PREFIX) or not all(ch in ALPHABET for ch in body):
        return False
    random_part, check = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    return secrets.compare_digest(checksum(random_part), check)


def key_hash(key):
    return hashlib.sha256(key.encode()).digest()


def shown_part(key):
    """The prefix lists and logs show: `schd_` and 8 characters (47 of the 256 bits)."""
    return key[:SHOWN]
