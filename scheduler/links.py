"""The public side of booking links: page URLs and guests' manage tokens.

A manage token is the guest's only credential. The database keeps just its hash (for the
lookup, keys.token_hash) and a random salt; the token is an HMAC of the salt under a key
derived from JWT_SECRET, so emails sent later (reminders, a cancellation by the host) can carry
the link again while the database alone cannot produce it. Rotating JWT_SECRET therefore voids
every manage link, as it voids every login token.

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


def new_salt():
    return secrets.token_urlsafe(SALT_BYTES)


def manage_token(secret, salt):
    digest = hmac.new(derived_key(secret, "guest-manage-token"), salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def page_url(site, *parts):
    return site.rstrip("/") + "/" + "/".join(parts)


def booking_url(site, username, slug):
    return page_url(site, "book", username, slug) if username else None


def manage_url(site, token):
    return page_url(site, "manage", token)
