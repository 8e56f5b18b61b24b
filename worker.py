"""The background worker: runs email, webhook and calendar-write jobs from RQ and sweeps the
outboxes.

One process runs RQ workers (jobs in-process, no fork per job) on three queues: emails in the
main thread, webhooks in WEBHOOK_CONCURRENCY threads of their own, so a slow or hanging webhook
receiver never holds up an email, nor (one attempt in flight per endpoint) other endpoints, and
calendar writes in CALENDAR_WRITE_CONCURRENCY others, so a dead CalDAV server holds up neither.
Sweep threads enqueue a drain for due emails nobody took, and webhook deliveries and calendar
writes with no live job; another refreshes the admins' dashboard snapshots before they expire,
one expires the requests left unanswered (within OUTBOX_POLL_SECONDS of their time), one
deletes old data (scheduler/retention.py), and one reads people's external calendars as they come due
(scheduler/external_calendars/refresh.py). It waits out Redis or PostgreSQL outages, and stops on SIGTERM or
SIGINT in any state: idle, mid-job (after that email), or waiting for Redis. A webhook attempt
or calendar write in flight at that moment is cut short; its lease runs out and the sweep
enqueues it again (at least once), and a webhook's endpoint is free for other deliveries after
WEBHOOK_TIMEOUT and a margin.
"""

import logging
import signal
import threading

import redis
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.timeouts import TimerDeathPenalty
from rq.worker import WorkerStatus

from scheduler import dashboard, jobs, retention
from scheduler.booking_write import BookingWrite
from scheduler.config import Settings
from scheduler.delivery import calendars, emails, webhooks
from scheduler.external_calendars.refresh import refresh_due
from scheduler.logs import configure_logging
from scheduler.runtime import start_worker

log = logging.getLogger("scheduler.worker")
# Requests expired per transaction by the sweep, which goes on while a batch comes back full.
EXPIRY_BATCH = 100


class Worker(SimpleWorker):
    """RQ's worker, but a stop request also ends our loops. (RQ's own handler stops only RQ's
    loop; with Redis down, leaving it raised a Redis error that our loop took for an outage to
    wait out, so SIGTERM was lost.) Overrides RQ 2's signal-handler hook: rq is pinned. Runs
    jobs as jobs.Job, which finds functions that moved."""

    job_class = jobs.Job

    def __init__(self, *args, stop, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop = stop

    def _install_signal_handlers(self):
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        # RQ registers the worker before it installs these: a signal in between only set `stop`,
        # and RQ would then wait out a whole dequeue timeout (minutes) before noticing.
        if self.stop.is_set():
            self._stop_requested = True

    def request_stop(self, signum, frame):
        self.stop.set()
        if self.get_state() == WorkerStatus.BUSY:
            self._stop_requested = True  # finish the job in hand, then leave
        else:
            raise StopRequested()


class ThreadWorker(Worker):
    """A Worker outside the main thread: the main thread's worker owns the signal handlers (and
    sets the shared stop event), and job timeouts use a timer instead of SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def every(seconds, task, stop):
    """Runs `task` every `seconds` until stopped; a failure (an outage) is logged and retried."""
    while not stop.wait(seconds):
        try:
            task()
        except Exception as exc:  # an outage must not end the loop
            log.warning("%s failed, will retry: %s", task.__name__, exc)


def background_tasks(rt):
    """(seconds, task): the sweeps of the outboxes, refreshing the admins' dashboard snapshots early
    enough that none is DASHBOARD_MAX_AGE old when asked for (checked twice per lead time),
    deleting old data (one worker at a time), and refreshing the calendars that are due (each
    claimed by one worker; their interval is CALENDAR_REFRESH_MINUTES, this is how soon a due
    one is noticed)."""
    settings = rt.settings
    lead = min(settings.dashboard_max_age / 2, 2 * settings.outbox_poll_seconds + 1)

    def outbox_sweep():
        emails.sweep(rt)

    def webhook_sweep():
        webhooks.sweep(rt)

    def calendar_write_sweep():
        calendars.sweep(rt)

    def dashboard_refresh():
        dashboard.refresh(rt.redis, rt.db, settings.dashboard_max_age, lead)

    def retention_purge():
        retention.purge(rt.db, settings)

    def calendar_refresh():
        refresh_due(rt)

    def request_expiry():
        while BookingWrite(rt).expire_requests(limit=EXPIRY_BATCH) == EXPIRY_BATCH:
            pass

    return [(settings.outbox_poll_seconds, outbox_sweep), (settings.outbox_poll_seconds, webhook_sweep),
            (settings.outbox_poll_seconds, calendar_write_sweep),
            (min(settings.outbox_poll_seconds, lead / 2), dashboard_refresh),
            (settings.retention_interval, retention_purge), (settings.outbox_poll_seconds, calendar_refresh),
            (settings.outbox_poll_seconds, request_expiry)]


def work(settings, stop, queue=jobs.email_queue, worker_class=Worker):
    """Runs RQ's worker until a stop is asked for, starting it again after a Redis outage."""
    # Its own connection: RQ raises the socket timeout to outlast its blocking dequeue, which
    # the sweep's and the jobs' short Redis calls must not inherit.
    connection = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    delay = 1
    while not stop.is_set():
        try:
            worker = worker_class([queue(connection)], connection=connection, stop=stop)
            worker.work(logging_level=settings.log_level)
            delay = 1
        except (redis.RedisError, StopRequested) as exc:
            if not stop.is_set():
                log.warning("redis unavailable (%s), retrying in %ss", exc, delay)
        finally:
            if threading.current_thread() is threading.main_thread():
                stop_on_signal(stop)
        stop.wait(delay)
        delay = min(delay * 2, 30)


def stop_on_signal(stop):
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())


def main():
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    rt = start_worker(settings)
    stop = rt.stopping
    stop_on_signal(stop)
    for seconds, task in background_tasks(rt):
        threading.Thread(target=every, args=(seconds, task, stop), name=task.__name__, daemon=True).start()
    # Several webhook attempts in flight, at most one per endpoint (delivery/webhooks.py): a hung
    # receiver holds one thread until it times out, not the others' deliveries.
    for n in range(settings.webhook_concurrency):
        threading.Thread(target=work, args=(settings, stop, jobs.webhook_queue, ThreadWorker),
                         name=f"webhooks-{n + 1}", daemon=True).start()
    for n in range(settings.calendar_write_concurrency):
        threading.Thread(target=work, args=(settings, stop, jobs.calendar_queue, ThreadWorker),
                         name=f"calendars-{n + 1}", daemon=True).start()
    log.info("worker started: provider=%s, queues=%s, %s (%d threads), %s (%d threads)", settings.email_provider,
             jobs.EMAIL_QUEUE, jobs.WEBHOOK_QUEUE, settings.webhook_concurrency, jobs.CALENDAR_QUEUE,
             settings.calendar_write_concurrency)
    try:
        work(settings, stop)
    finally:
        stop.set()
    log.info("worker stopped")


if __name__ == "__main__":
    main()
