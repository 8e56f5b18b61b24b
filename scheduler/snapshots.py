"""Results shared by every web process for up to a minute: for views that are the same for
everyone allowed to see them and too costly to compute per request (the all-events dashboard).
Permission checks still run on every request; only the computed result is shared."""

import logging
import time

import orjson
import redis

log = logging.getLogger("scheduler.snapshots")


def shared(client, key, max_age, compute):
    """`compute()`'s result, at most `max_age` seconds old. One process recomputes a stale
    result while the others keep serving the previous one; with Redis down, every request
    computes."""
    try:
        cached = client.get(key)
        snapshot = orjson.loads(cached) if cached else None
        if snapshot and time.time() - snapshot["as_of"] < max_age:
            return snapshot
        if snapshot and not client.set(f"{key}:refreshing", 1, nx=True, ex=30):
            return snapshot
    except redis.RedisError as exc:
        log.warning("snapshot cache unavailable, computing: %s", exc)
        return {"as_of": time.time(), "value": compute()}
    # Returned as it is stored (through JSON), so a fresh and a cached answer look the same.
    fresh = orjson.dumps({"as_of": time.time(), "value": compute()})
    try:
        client.set(key, fresh, ex=max_age * 10)
        client.delete(f"{key}:refreshing")
    except redis.RedisError as exc:
        log.warning("snapshot cache unavailable, not storing: %s", exc)
    return orjson.loads(fresh)
