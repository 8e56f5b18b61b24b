import time
from datetime import datetime, timezone
from typing import Literal

import redis
from flask import Blueprint, current_app

from ..context import redis_client, settings, single_statement
from ..errors import OUTAGE_RETRY_AFTER
from ..openapi import Shape, describe

bp = Blueprint("health", __name__)


def database_ok():
    try:
        with single_statement() as cur:
            cur.execute("SELECT 1")
        return True
    except Exception:  # any failure means "not reachable" here
        return False


def redis_ok():
    try:
        return bool(redis_client().ping())
    except redis.RedisError:
        return False


CHECK_EVERY_SECONDS = 1.0


class Checks(Shape):
    database: Literal["ok", "down"]
    redis: Literal["ok", "down"]


class Health(Shape):
    status: Literal["OK", "DEGRADED", "UNAVAILABLE"]
    uptime: float
    timestamp: datetime
    environment: str
    checks: Checks


def dependencies():
    """(database ok, redis ok). A healthy answer is kept for a second per process, so that a
    busy load balancer probing /health costs the database almost nothing; a failed check is
    not kept, so the first probe after a recovery sees it."""
    cache = current_app.extensions.setdefault("health", {"at": float("-inf")})
    now = time.monotonic()
    if now - cache["at"] < CHECK_EVERY_SECONDS:
        return True, True
    state = database_ok(), redis_ok()
    cache["at"] = now if all(state) else float("-inf")
    return state


@bp.get("/health")
@describe(responses={200: Health, 503: Health})
def health():
    """The service and its dependencies.

    503 (`UNAVAILABLE`) when PostgreSQL is unreachable; `DEGRADED` when only Redis is (emails
    are then sent once it is back)."""
    database, queue = dependencies()
    status = "OK" if database and queue else ("DEGRADED" if database else "UNAVAILABLE")
    body = {
        "status": status,
        "uptime": round(time.monotonic() - current_app.config["STARTED_AT"], 3),
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "environment": settings().app_env,
        "checks": {"database": "ok" if database else "down", "redis": "ok" if queue else "down"},
    }
    if not database:
        return body, 503, {"Retry-After": str(OUTAGE_RETRY_AFTER)}
    return body, 200
