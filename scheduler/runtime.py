"""What a process works with: its settings, its database pool and its Redis client, built the
same way by the web app (`create_app`) and the worker (worker.py). The web layer reaches the
app's runtime through scheduler/context.py; code below it is handed one."""

import threading
from dataclasses import dataclass, field
from functools import cached_property

import redis

from .config import Settings
from .db import Database
from .mail.providers import provider_for
from .ratelimit import RateLimiter

# Redis answers in well under a millisecond; one that takes longer is down or frozen. Requests
# then go on without it (the outbox covers a failed enqueue, the limiters fail open), so a
# short timeout keeps a frozen Redis from holding every booking up.
WEB_REDIS_TIMEOUT = 0.2
# The worker's calls are not on anyone's request path, and its jobs should outlast a hiccup.
WORKER_REDIS_TIMEOUT = 5
# The email job, the sweeps, the snapshot refresher, the calendar refresher; and one per webhook
# and calendar-write thread.
WORKER_POOL_SIZE = 4


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    limiter: RateLimiter
    stopping: threading.Event = field(default_factory=threading.Event)  # set when the worker is asked to stop

    @classmethod
    def build(cls, settings, *, pool_size, redis_timeout):
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=redis_timeout,
                                      socket_connect_timeout=redis_timeout, health_check_interval=30)
        return cls(settings=settings, db=Database(settings.database_url, size=pool_size), redis=client,
                   limiter=RateLimiter(client))

    @classmethod
    def for_web(cls, settings):
        return cls.build(settings, pool_size=settings.db_pool_size, redis_timeout=WEB_REDIS_TIMEOUT)

    @classmethod
    def for_worker(cls, settings):
        return cls.build(settings,
                         pool_size=WORKER_POOL_SIZE + settings.webhook_concurrency + settings.calendar_write_concurrency,
                         redis_timeout=WORKER_REDIS_TIMEOUT)

    @cached_property
    def mail_provider(self):
        return provider_for(self.settings)


# RQ hands a job only the row id it was queued with, so the worker's jobs find their process's
# runtime here: worker.py (and the tests) start it, or the first job builds it from the
# environment.
_worker = None


def start_worker(settings):
    global _worker
    _worker = Runtime.for_worker(settings)
    return _worker


def worker_runtime():
    return _worker or start_worker(Settings.from_env())
