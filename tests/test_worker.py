"""worker.py as a real process: it delivers, waits out a Redis outage instead of exiting, and
stops on SIGTERM whatever it is doing."""

import os
import shutil
import signal
import subprocess
import threading
import time
from datetime import datetime

import pytest
import redis
from rq.utils import import_attribute

from helpers import wait_until, worker_process
from scheduler import create_app, jobs
from worker import ThreadWorker, Worker


class RedisServer:
    def __init__(self, directory):
        self.socket = os.path.join(directory, "redis.sock")
        self.url = f"unix://{self.socket}?db=0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.socket, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL)
        assert wait_until(lambda: os.path.exists(self.socket), 10)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisServer(str(tmp_path))
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def register(settings, redis_url, email):
    app = create_app(settings.replace(redis_url=redis_url))
    r = app.test_client().post("/api/v1/auth/register", json={"name": "W", "email": email, "password": "secure123"})
    app.extensions["runtime"].db.close()
    assert r.status_code == 201


def test_worker_process_delivers_and_survives_a_redis_restart(settings, own_redis, mailbox, smtp_server):
    worker = worker_process(settings.database_url, own_redis.url, smtp_server[1])
    try:
        register(settings, own_redis.url, "before@example.com")
        assert wait_until(lambda: len(mailbox.received()) == 1)

        own_redis.stop()
        register(settings, own_redis.url, "during@example.com")
        time.sleep(2)
        assert worker.poll() is None, "the worker exited during the Redis outage"

        own_redis.start()
        assert wait_until(lambda: len(mailbox.received()) == 2), "not delivered after Redis came back"
        assert sorted(m["To"] for m in mailbox.received()) == ["before@example.com", "during@example.com"]
    finally:
        worker.terminate()
        worker.wait(20)


def stopped_by_sigterm(worker, seconds=10):
    worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(seconds) == 0
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)
        return False


def worker_registered(redis_url):
    conn = redis.Redis.from_url(redis_url)
    try:
        return conn.scard("rq:workers") > 0
    finally:
        conn.close()


def test_worker_stops_on_sigterm_when_idle(settings, own_redis, smtp_server):
    worker = worker_process(settings.database_url, own_redis.url, smtp_server[1])
    assert wait_until(lambda: worker_registered(own_redis.url))
    assert stopped_by_sigterm(worker)


def test_a_stop_asked_for_before_rq_takes_the_signals_is_not_lost(redis_url):
    """A SIGTERM after RQ registers the worker but before it installs its own handlers only sets
    `stop`: the worker must still leave at once, not after a dequeue timeout (minutes)."""
    connection = redis.Redis.from_url(redis_url)
    stop = threading.Event()
    stop.set()
    rq_worker = Worker([jobs.email_queue(connection)], connection=connection, stop=stop)
    started = time.monotonic()
    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(15)
    try:
        rq_worker.work()
    finally:
        signal.alarm(0)
        for signum, handler in ((signal.SIGALRM, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_DFL),
                                (signal.SIGINT, signal.default_int_handler)):
            signal.signal(signum, handler)
        connection.close()
    assert time.monotonic() - started < 10, "the worker waited for a job after it was asked to stop"


def give_up(signum, frame):
    raise TimeoutError("still waiting")


def test_worker_stops_on_sigterm_while_redis_is_down(settings, own_redis, smtp_server):
    worker = worker_process(settings.database_url, own_redis.url, smtp_server[1])
    assert wait_until(lambda: worker_registered(own_redis.url))
    own_redis.stop()
    time.sleep(1.5)  # into RQ's reconnect loop, and the sweep's failures
    assert worker.poll() is None
    assert stopped_by_sigterm(worker), "the worker ignored SIGTERM while Redis was down"


def snapshot_as_of(redis_url):
    conn = redis.Redis.from_url(redis_url)
    try:
        return float(conn.hget("dashboard:all:30", "as_of"))
    finally:
        conn.close()


def test_worker_process_refreshes_the_dashboard_before_it_is_max_age_old(settings, own_redis, smtp_server, db):
    """DASHBOARD_MAX_AGE=2: after idling past it, the snapshot in Redis is still younger than
    2 s, computed by worker.py rather than by a request."""
    app = create_app(settings.replace(redis_url=own_redis.url, dashboard_max_age=2))
    client = app.test_client()
    r = client.post("/api/v1/auth/register", json={"name": "A", "email": "admin@example.com", "password": "secure123"})
    with db.cursor() as cur:
        cur.execute("UPDATE users SET role = 'admin'")
    auth = {"Authorization": f"Bearer {r.json['token']}"}
    first = client.get("/api/v1/analytics/dashboard", headers=auth).json["as_of"]
    worker = worker_process(settings.database_url, own_redis.url, smtp_server[1], DASHBOARD_MAX_AGE="2")
    try:
        assert wait_until(lambda: worker_registered(own_redis.url))
        time.sleep(3)
        as_of = snapshot_as_of(own_redis.url)
        assert time.time() - as_of < 2
        # The worker refreshes every half second or so: compare across a request that no refresh
        # overlapped (a request that computed its own snapshot would change it every time).
        for _ in range(20):
            as_of = snapshot_as_of(own_redis.url)
            later = client.get("/api/v1/analytics/dashboard", headers=auth).json["as_of"]
            if snapshot_as_of(own_redis.url) == as_of:
                break
        assert later > first and datetime.fromisoformat(later).timestamp() == as_of
    finally:
        app.extensions["runtime"].db.close()
        assert stopped_by_sigterm(worker)


def test_worker_stops_on_sigterm_while_recording_a_send_through_a_database_outage(settings, own_redis, smtp_server,
                                                                                  mailbox, cut_database):
    """It keeps trying to record a send it made (or the row is sent again), but not forever
    once asked to stop."""
    worker = worker_process(settings.database_url, own_redis.url, smtp_server[1])
    try:
        assert wait_until(lambda: worker_registered(own_redis.url))
        mailbox.on_message = lambda envelope: cut_database(60)
        register(settings, own_redis.url, "cut@example.com")
        assert wait_until(lambda: len(mailbox.received()) == 1)
        time.sleep(1)  # retrying to record it
        assert worker.poll() is None
        assert stopped_by_sigterm(worker, seconds=15), "the worker ignored SIGTERM while the database was down"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def test_a_job_queued_before_its_function_moved_still_runs(settings, worker, redis_conn, mailbox, db):
    """A deploy that moves a job function must not strand the jobs Redis already holds under its
    old name: worker.py's workers run it where it is now (jobs.MOVED), at once, not when the
    sweep gives up on the job."""
    worker()  # configures the worker's runtime for these tests
    register(settings, settings.redis_url, "moved@example.com")
    queue = jobs.email_queue(redis_conn)
    queue.empty()
    with db.cursor() as cur:
        cur.execute("SELECT id FROM email_outbox WHERE recipient = 'moved@example.com'")
        [email_id] = cur.fetchone()
    queue.enqueue("scheduler.mail.delivery.deliver", email_id, job_id=f"email-{email_id}", result_ttl=0)
    ThreadWorker([queue], connection=redis_conn, stop=threading.Event()).work(burst=True, logging_level="WARNING")
    assert [m["To"] for m in mailbox.received()] == ["moved@example.com"]


def test_every_moved_job_name_leads_to_a_job_function():
    assert all(callable(import_attribute(now)) for now in jobs.MOVED.values())
