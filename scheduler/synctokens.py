"""Sync tokens: where a client's bookings sync stopped, signed so that nobody can forge one.

A position is a pair of PostgreSQL snapshots: `since`, what the client has already seen (None
on a first sync), and, while a sync is paged, `upto`, what this sync delivers, with `after`, the
(changed_xid, booking_id) of the last row delivered. Snapshots say exactly which transactions
had committed, so a change that commits after the snapshot is never taken as seen, even if it
began (and took its transaction id) before: unlike a timestamp or a sequence value, which a
slow transaction can commit after a faster one with a later value has been read.

The token is the position as JSON with the user id and issue time, base64url, and an
HMAC-SHA256 under a key derived from JWT_SECRET. Anything that is not a token this service
issued to this user within SYNC_TOKEN_TTL is 410 Gone: the client syncs from scratch.
"""

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

import orjson

from . import clock
from .context import settings
from .keys import derived_key
from .errors import Gone

SNAPSHOT = re.compile(r"[0-9]{1,20}:[0-9]{1,20}:(?:[0-9]{1,20}(?:,[0-9]{1,20})*)?")
FUTURE_LEEWAY = 60  # seconds of clock skew between web processes


@dataclass(frozen=True)
class Position:
    since: str | None = None
    upto: str | None = None
    after: tuple | None = None


def key():
    return derived_key(settings().jwt_secret, "scheduler bookings sync token")


def signature(payload):
    return hmac.new(key(), payload, hashlib.sha256).digest()


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(user_id, position):
    payload = orjson.dumps({"u": user_id, "t": int(clock.now().timestamp()), "s": position.since,
                            "n": position.upto, "a": list(position.after) if position.after else None})
    return f"{b64(payload)}.{b64(signature(payload))}"


def read(token, user_id):
    """The position the token holds; 410 for anything this service did not issue to this user,
    or issued longer than SYNC_TOKEN_TTL ago."""
    expired = Gone("Sync token is invalid or expired: sync again without a token", fields={"token": "expired"})
    try:
        encoded, _, sig = token.partition(".")
        payload = unb64(encoded)
        if not hmac.compare_digest(unb64(sig), signature(payload)):
            raise ValueError
        claims = orjson.loads(payload)
    except (ValueError, binascii.Error):
        raise expired from None
    now = clock.now().timestamp()
    if claims["u"] != user_id or not now - settings().sync_token_ttl <= claims["t"] <= now + FUTURE_LEEWAY:
        raise expired
    after = claims["a"]
    # Signed by us, so well-formed; checked anyway, since it goes into SQL as a pg_snapshot.
    if not all(s is None or SNAPSHOT.fullmatch(s) for s in (claims["s"], claims["n"])):
        raise expired
    return Position(since=claims["s"], upto=claims["n"], after=tuple(after) if after else None)
