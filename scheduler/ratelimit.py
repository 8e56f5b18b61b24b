"""Fixed-window counters in Redis, shared by every web and worker process."""

import hashlib
import logging

import redis

log = logging.getLogger("scheduler.ratelimit")


def key_for(kind, value):
    """A Redis key that does not store the e-mail or address itself. `value` is taken as given:
    callers pass canonical values (an e-mail's identity_key), never a second folding rule."""
    return f"ratelimit:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


# Counts one event and says where the window stands: one command and one reply, where a
# pipeline of INCR, EXPIRE and TTL cost a request's worth of CPU in redis-py (bench/key_auth.py).
COUNT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return {count, redis.call('TTL', KEYS[1])}
"""


class RateLimiter:
    """Counts events per key per window. Fails open: if Redis is down, nothing is limited."""

    def __init__(self, client):
        self.client = client
        self.counter = client.register_script(COUNT)

    def hit(self, key, limit, window):
        """Counts one event; returns seconds to wait if this one is over the limit, else None."""
        counted = self.count(key, window)
        if counted is None:
            return None
        count, reset = counted
        return reset if count > limit else None

    def count(self, key, window):
        """Counts one event: (events in this window so far, seconds until it ends), or None
        when Redis is down."""
        try:
            count, ttl = self.counter(keys=[key], args=[window])
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable, not limiting: %s", exc)
            return None
        return count, max(ttl, 1)

    def exceeded(self, key, limit):
        """Seconds to wait if the key is already at its limit, else None. Counts nothing."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable, not limiting: %s", exc)
            return None
        return max(ttl, 1) if count is not None and int(count) >= limit else None

    def reset(self, key):
        try:
            self.client.delete(key)
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable: %s", exc)
