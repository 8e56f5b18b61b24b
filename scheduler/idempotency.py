"""Idempotency-Key (draft-ietf-httpapi-idempotency-key-header, as Stripe does it) for POSTs.

A request with the header runs in one transaction that first takes the key's lock (without
waiting: a second request with the key while the first runs is 409) and looks for the key's
record. A recorded key replays its response (status, body, Content-Type, Location, ETag) if the
request has the same fingerprint (method, path and JSON body), else 422. An unrecorded key
runs the handler inside that transaction (its own transaction becomes a savepoint) and records
the response in it: the writes and the record commit together or not at all, so a crash or a
retry-on-deadlock can neither repeat the writes nor lose the record. Client errors (4xx) are
recorded and replayed too; 429 and 5xx are not, so those may be retried with the same key.
Keys are scoped to the caller and kept for IDEMPOTENCY_TTL. Recorded bodies are sealed
(AES-GCM, with the SECRET_KEYS ring: scheduler/keyring.py): a guest booking's response holds its
manage token, which the database alone must not give away. Without the header, nothing changes
and nothing is read.
"""

import functools
import hashlib
from datetime import timedelta

import orjson
import psycopg2
from flask import current_app, g, request

from . import clock
from .email_addresses import identity_key
from .context import settings, transaction
from .keyring import SealError
from .sealing import idempotency_record
from .errors import APIError, BadRequest, Conflict, UnprocessableEntity, from_integrity_error
from .repositories import idempotency
from .validation import json_body, request_body

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "Link")
PRINTABLE = frozenset(map(chr, range(0x20, 0x7F))) - {'"', "\\"}
VISIBLE = PRINTABLE - {" "}


def user_scope():
    return f"user:{g.user['id']}"


def guest_scope():
    """Callers without an account: their address and the e-mail they book with."""
    email = json_body().get("email")
    return f"guest:{request.remote_addr}:{identity_key(email) if isinstance(email, str) else ''}"


def idempotent(scope=user_scope):
    """Decorates a handler (under @login_required when `scope` reads g.user). `scope()` names
    the caller whose keys are separate from everyone else's."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            raw = request.headers.get(HEADER)
            if raw is None:
                return view(*args, **kwargs)
            key = parse_key(raw)
            return once(scope(), key, fingerprint(), lambda: view(*args, **kwargs))
        wrapper.idempotent = True  # read by the OpenAPI description
        return wrapper
    return decorator


def parse_key(raw):
    """The key: a structured-field string ("...") as the draft writes it, or the bare text Stripe
    clients send; 1-255 printable ASCII characters (no quote or backslash). 400 otherwise."""
    quoted = len(raw) >= 2 and raw[0] == raw[-1] == '"'
    text = raw[1:-1] if quoted else raw
    if not 1 <= len(text) <= MAX_KEY_LENGTH or not set(text) <= (PRINTABLE if quoted else VISIBLE):
        raise BadRequest(f"Invalid {HEADER}: use 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID",
                         fields={HEADER: f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"})
    return text


def fingerprint():
    """What makes two requests the same: method, path and body (as JSON, so whitespace and
    key order don't matter)."""
    body = request_body()
    try:
        body = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        pass
    return hashlib.sha256(b"\0".join((request.method.encode(), request.path.encode(), body))).digest()


def once(scope, key, print_, run):
    with transaction() as cur:
        if not idempotency.hold(cur, scope=scope, key=key):
            raise Conflict(f"A request with this {HEADER} is still being processed; retry it later",
                           headers={"Retry-After": "1"})
        now = clock.now()
        done = idempotency.find(cur, scope=scope, key=key, now=now)
        if done is not None:
            body = opened(bytes(done["body"]), scope, key)
            if bytes(done["fingerprint"]) != print_ or body is None:
                raise UnprocessableEntity(f"This {HEADER} was used for a different request; use a new key")
            return replay(done, body)
        response = current_app.make_response(outcome(run))
        if response.status_code < 500 and response.status_code != 429:
            idempotency.record(
                cur, scope=scope, key=key, fingerprint=print_, status=response.status_code,
                headers={name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers},
                body=sealed(response.get_data(), scope, key),
                expires_at=now + timedelta(seconds=settings().idempotency_ttl))
    return response


def outcome(run):
    """The handler's response, with the client errors it raises turned into their responses (so
    they can be recorded); anything else propagates and rolls everything back."""
    try:
        return run()
    except APIError as exc:
        error = exc
    except psycopg2.IntegrityError as exc:
        error = from_integrity_error(exc)
        if error is None:
            raise
    return error.body(), error.status, error.headers


def sealed(body, scope, key):
    return settings().secret_keys.seal(body, idempotency_record(scope, key))


def opened(blob, scope, key):
    """The recorded body; None if it can't be opened (its key has left SECRET_KEYS)."""
    try:
        return settings().secret_keys.open(blob, idempotency_record(scope, key))
    except SealError:
        return None


def replay(done, body):
    response = current_app.response_class(body, status=done["status"], headers=done["headers"])
    response.headers["Idempotent-Replayed"] = "true"
    return response
