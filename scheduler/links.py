"""The public side of booking links: page URLs and guests' manage tokens.

A manage token is the guest's only credential. The database keeps just its SHA-256 (for the
lookup) and a random salt; the token is an HMAC of the salt under a key derived from
JWT_SECRET, so emails sent later (reminders, a cancellation by the host) can carry the link
again while the database alone cannot produce it. Rotating JWT_SECRET therefore voids every
manage link, as it voids every login token.
"""

import base64
import hashlib
import hmac
import secrets

from flask import request

SALT_BYTES = 32  # 256 random bits per booking


def new_salt():
    return secrets.token_urlsafe(SALT_BYTES)


def manage_token(secret, salt):
    key = hmac.new(secret.encode(), b"guest-manage-token", hashlib.sha256).digest()
    digest = hmac.new(key, salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def page_url(*parts):
    """An absolute URL of one of the service's pages, from this request's scheme and host."""
    return request.url_root + "/".join(parts)


def booking_url(username, slug):
    return page_url("book", username, slug) if username else None


def manage_link(salt):
    """What an email needs to show the manage URL when it is sent (see `manage_url`)."""
    return {"base": page_url("manage", ""), "salt": salt}


def manage_url(link, secret):
    return link["base"] + manage_token(secret, link["salt"])
