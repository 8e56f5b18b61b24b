"""Secrets and signatures as the Standard Webhooks specification defines them: a secret is
`whsec_` + base64 of 32 random bytes; a signature is `v1,` + base64 of HMAC-SHA256 over
"webhook-id.webhook-timestamp.body", and the header lists one per secret, space-separated."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret, message_id, timestamp, body):
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secrets_in_use, message_id, timestamp, body):
    """The webhook-* headers for one attempt: body is exactly the bytes that will be sent."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets_in_use),
    }
