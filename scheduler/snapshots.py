"""Results shared by every process and never served older than their max age: for views that
are the same for everyone allowed to see them and too costly to compute per request (the
all-events dashboard). Permission checks still run on every request; only the result is shared.

A snapshot is a Redis hash {as_of, value}, `as_of` being when its computation started (on
scheduler/clock.py's clock). A request serves it while it is younger than `max_age`; else
one process at a time (holding the key's refresh lock) recomputes while the others wait for
its result, at most WAIT_SECONDS, then compute their own. The worker recomputes snapshots
asked for recently before they expire (`refresh_wanted`), so requests rarely wait. A store
never replaces a newer snapshot with an older one, whichever computation ends first.
"""

import logging
import time
import uuid

import orjson
import redis

from . import clock

log = logging.getLogger("scheduler.snapshots")

WANTED = "snapshots:wanted"  # sorted set: key -> when it was last asked for
WANTED_FOR = 600  # seconds after the last request during which the worker keeps a snapshot fresh
LOCK_SECONDS = 30
WAIT_SECONDS = 10
POLL_SECONDS = 0.05

STORE_IF_NEWER = """
local stored = redis.call('HGET', KEYS[1], 'as_of')
if stored and tonumber(stored) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'as_of', ARGV[1], 'value', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
RELEASE_IF_MINE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def now():
    return clock.now().timestamp()


def fresh(snapshot, max_age, margin=0.0):
    return snapshot is not None and now() - snapshot["as_of"] < max_age - margin


def snapshot_from(as_of, value):
    return None if as_of is None else {"as_of": float(as_of), "value": orjson.loads(value)}


def read(client, key):
    return snapshot_from(*client.hmget(key, "as_of", "value"))


def computed(compute):
    """A new snapshot, its value passed through JSON so it looks the same as a stored one."""
    as_of = now()
    return {"as_of": as_of, "value": orjson.loads(orjson.dumps(compute()))}


def recompute(client, key, max_age, compute, margin=0.0):
    """Computes and stores the snapshot under the key's lock, unless it is fresh (within
    `margin`) by the time the lock is ours. None if another process holds the lock."""
    lock, token = f"{key}:refreshing", uuid.uuid4().hex
    if not client.set(lock, token, nx=True, ex=LOCK_SECONDS):
        return None
    try:
        current = read(client, key)
        if fresh(current, max_age, margin):
            return current
        snapshot = computed(compute)
        client.eval(STORE_IF_NEWER, 1, key, repr(snapshot["as_of"]), orjson.dumps(snapshot["value"]), max_age)
        return snapshot
    finally:
        client.eval(RELEASE_IF_MINE, 1, lock, token)


def shared(client, key, max_age, compute):
    """`compute()`'s result as {as_of, value}, never more than `max_age` seconds old. With
    Redis down, every request computes its own."""
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zadd(WANTED, {key: now()})
        pipe.hmget(key, "as_of", "value")
        snapshot = snapshot_from(*pipe.execute()[1])
        deadline = time.monotonic() + WAIT_SECONDS
        while not fresh(snapshot, max_age):
            snapshot = recompute(client, key, max_age, compute)
            if snapshot is not None:
                return snapshot
            if time.monotonic() > deadline:
                log.warning("snapshot %s: no fresh one within %ss, computing one here", key, WAIT_SECONDS)
                return computed(compute)
            time.sleep(POLL_SECONDS)
            snapshot = read(client, key)
        return snapshot
    except redis.RedisError as exc:
        log.warning("snapshot cache unavailable, computing: %s", exc)
        return computed(compute)


def refresh_wanted(client, max_age, lead, compute_for):
    """For the worker: recomputes every snapshot asked for in the last WANTED_FOR seconds that
    would be stale within `lead` seconds, so requests find it fresh. `compute_for(key)` gives
    the key's compute function, or None for a key it does not know."""
    client.zremrangebyscore(WANTED, "-inf", now() - WANTED_FOR)
    for raw_key in client.zrange(WANTED, 0, -1):
        key = raw_key.decode()
        compute = compute_for(key)
        if compute is None:
            client.zrem(WANTED, key)
        elif not fresh(read(client, key), max_age, lead):
            recompute(client, key, max_age, compute, margin=lead)
