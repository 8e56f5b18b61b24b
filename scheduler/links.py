"""The public side of booking links: page URLs and guests' manage tokens.

A manage token is the guest's only credential. The database keeps just its hash (for the
lookup, keys.token_hash) and a salt; the token is an HMAC of the salt under a key derived from
a SECRET_KEYS key, so emails sent later (reminders, a cancellation by the host) can carry the
link again while the database alone cannot produce it. The salt names that key
(`<key id>.<random>`, as a bcrypt hash names its cost), so a link keeps working when another key
becomes current, for as long as its own key stays in the ring; rotating JWT_SECRET leaves it
alone. Salts of bookings made before the key ring (no key id) keep their key derived from
JWT_SECRET: rotating that voids those links only.

URLs start from `site`, the base URL of the service's pages (PUBLIC_BASE_URL), which the
caller supplies. An email's manage link is made when it is sent: the outbox keeps only the
salt, so a link is always on the current PUBLIC_BASE_URL.
"""

import base64
import hashlib
import hmac
import secrets

from .keys import derived_key

SALT_BYTES = 32  # 256 random bits per booking
PURPOSE = "guest-manage-token"


def new_salt(ring):
    return f"{ring.current_id}.{secrets.token_urlsafe(SALT_BYTES)}"


def salt_key_id(salt):
    """The SECRET_KEYS key a salt's token is made with; "" for a salt from before the ring."""
    return salt.rpartition(".")[0]


def manage_token(settings, salt):
    key_id = salt_key_id(salt)
    key = settings.secret_keys.derived(key_id, PURPOSE) if key_id else derived_key(settings.jwt_secret, PURPOSE)
    digest = hmac.new(key, salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def page_url(site, *parts):
    return site.rstrip("/") + "/" + "/".join(parts)


def booking_url(site, username, slug):
    return page_url(site, "book", username, slug) if username else None


def team_booking_url(site, org_slug, slug):
    return page_url(site, "book", "team", org_slug, slug) if org_slug else None


def manage_url(site, token):
    return page_url(site, "manage", token)
