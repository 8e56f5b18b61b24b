"""The background worker: runs email delivery jobs from RQ and sweeps the outbox.

One process runs one RQ worker (jobs in-process, no fork per job) and a sweep thread that
enqueues due outbox rows with no live job. It waits out Redis or PostgreSQL outages.
"""

import logging
import signal
import threading
import time

import redis
from rq import SimpleWorker

from scheduler import jobs
from scheduler.config import Settings
from scheduler.logs import configure_logging
from scheduler.mail import delivery

log = logging.getLogger("scheduler.worker")


def sweep_forever(rt, stop):
    while not stop.wait(rt.settings.outbox_poll_seconds):
        try:
            delivery.sweep(rt)
        except Exception as exc:  # an outage must not end the loop
            log.warning("outbox sweep failed, will retry: %s", exc)


def work(rt, stop):
    delay = 1
    while not stop.is_set():
        try:
            worker = SimpleWorker([jobs.email_queue(rt.redis)], connection=rt.redis)
            worker.work(logging_level=rt.settings.log_level)
            return
        except redis.RedisError as exc:
            log.warning("redis unavailable (%s), retrying in %ss", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)


def main():
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    rt = delivery.configure(settings)
    stop = threading.Event()
    sweeper = threading.Thread(target=sweep_forever, args=(rt, stop), name="outbox-sweep", daemon=True)
    sweeper.start()
    log.info("worker started: provider=%s, queue=%s", settings.email_provider, jobs.EMAIL_QUEUE)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        work(rt, stop)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
