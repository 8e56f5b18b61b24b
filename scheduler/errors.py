"""The exception types handlers raise, and the one place that turns errors into JSON."""

import logging

import psycopg2
import psycopg2.errors
import redis
from werkzeug.exceptions import HTTPException

from .db import PoolExhausted, TransientFailure
from .http import request_id as current_request_id

log = logging.getLogger("scheduler.errors")


class APIError(Exception):
    status = 400

    def __init__(self, message, headers=None, **details):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self):
        return {"error": self.message, **self.details}


class BadRequest(APIError):
    status = 400


class Unauthorized(APIError):
    status = 401


class Forbidden(APIError):
    status = 403


class NotFound(APIError):
    status = 404


class Conflict(APIError):
    status = 409


class Gone(APIError):
    status = 410


class PreconditionFailed(APIError):
    status = 412


class UnprocessableEntity(APIError):
    status = 422


class UnsupportedMediaType(APIError):
    status = 415


class RetryLater(APIError):
    """An answer that says when to ask again, in `Retry-After` and in the body."""

    def __init__(self, message, retry_after):
        retry_after = max(1, int(retry_after))
        super().__init__(message, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


class TooManyRequests(RetryLater):
    status = 429


class ServiceUnavailable(RetryLater):
    status = 503


# Seconds a client should wait after a 503: long enough for a restart or failover to finish,
# short enough that the first try after one succeeds. A busy pool frees up sooner.
OUTAGE_RETRY_AFTER = 5
POOL_RETRY_AFTER = 1
# A lock held past DB_LOCK_TIMEOUT: its transaction is stuck, and the statement timeout or its
# client ends it soon.
LOCK_RETRY_AFTER = 2


# Constraint (or unique index) name -> what the client did wrong.
CONFLICTS = {
    "users_email_key_unique": "Email already in use",
    "users_username_key": "Username already taken",
    "event_types_user_slug_key": "You already have an event type with this slug",
    "organizations_slug_key": "Organization slug already taken",
    "event_types_organization_slug_key": "This organization already has an event type with this slug",
    "organization_members_organization_id_user_id_key": "User is already a member",
    "bookings_seats_within": "That time is fully booked",
}


# Check constraint name -> the rule across fields it holds, for a 400 (a write that merges the
# stored fields with changes is checked by the database, which sees them all).
RULES = {
    "event_types_seats_or_confirmation": ("seats", "cannot be set on a type that requires confirmation"),
    "event_types_single_bookings": ("max_occurrences", "must be 1 on a type that requires confirmation or has seats"),
}


def from_integrity_error(exc):
    name = getattr(exc.diag, "constraint_name", None)
    if name in CONFLICTS:
        return Conflict(CONFLICTS[name])
    if name in RULES:
        field, rule = RULES[name]
        return BadRequest(f"Invalid input: {field}: {rule}", fields={field: rule})
    return None


def as_api_error(exc):
    """The answer to a dependency's failure (logged here): a lost conflict after retries is a
    409; a database or Redis that is down, a lock held too long or a full pool a 503. The API
    answers it in JSON, the pages as a page."""
    if isinstance(exc, TransientFailure) and exc.conflict:
        log.warning("concurrent change still conflicting after retries: %s", exc)
        return Conflict("A concurrent change got in the way, try again")
    if isinstance(exc, psycopg2.errors.LockNotAvailable):
        log.error("a person's lock held past DB_LOCK_TIMEOUT: %s", (str(exc).strip().splitlines() or ["55P03"])[0])
        return ServiceUnavailable("Another change to this calendar is stuck, try again shortly", LOCK_RETRY_AFTER)
    if isinstance(exc, PoolExhausted):
        log.error("database pool exhausted: %s", exc)
        return ServiceUnavailable("Server busy, try again shortly", POOL_RETRY_AFTER)
    if isinstance(exc, redis.RedisError):
        log.error("redis unavailable: %s", exc)
        return ServiceUnavailable("Service temporarily unavailable, try again shortly", OUTAGE_RETRY_AFTER)
    log.error("database unavailable: %s", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
    return ServiceUnavailable("Database unavailable, try again shortly", OUTAGE_RETRY_AFTER)


def register_error_handlers(app):
    @app.errorhandler(APIError)
    def api_error(exc):
        return exc.body(), exc.status, exc.headers

    @app.errorhandler(HTTPException)
    def http_error(exc):
        messages = {404: "Route not found", 405: "Method not allowed", 413: "Request body too large"}
        # werkzeug's own headers (a 405's Allow) without its HTML Content-Type.
        headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
        return {"error": messages.get(exc.code, exc.name)}, exc.code, headers

    @app.errorhandler(psycopg2.IntegrityError)
    def integrity_error(exc):
        mapped = from_integrity_error(exc)
        if mapped is None:
            return unexpected(exc)
        return api_error(mapped)

    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(PoolExhausted)
    @app.errorhandler(redis.RedisError)
    def dependency_failed(exc):
        return api_error(as_api_error(exc))

    @app.errorhandler(Exception)
    def unexpected(exc):
        request_id = current_request_id()
        log.exception("unhandled error (request %s)", request_id)
        return {"error": "Internal server error", "request_id": request_id}, 500
