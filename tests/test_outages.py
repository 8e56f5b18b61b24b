"""Connections that heal and outages answered clearly: a dead pooled connection is replaced
and the work run again when nothing was committed; PostgreSQL down is a fast 503 with
Retry-After and the first request after it returns succeeds; Redis down or frozen costs a
booking nothing; the worker waits out a PostgreSQL outage. The servers stopped here are the
tests' own (scripts/devservices.py), never the suite's."""

import os
import signal
import threading
import time
import uuid
from contextlib import contextmanager

import psycopg2.errors
import pytest

from migrate import migrate
from scheduler import create_app
from scheduler.db import ATTEMPTS, Database, TransientFailure, retrying
from scripts.devservices import PrivatePostgres, PrivateRedis
from tests.helpers import book_through_a_killed_backend, slot, wait_until, worker_process

KILL_POOL = """
    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'scheduler' AND pid <> pg_backend_pid()
"""


def user_count(db):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users")
        return cur.fetchone()[0]


def insert_user(cur):
    cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('T', %(email)s, 'x')",
                {"email": f"t-{uuid.uuid4().hex[:8]}@example.com"})


def kill_own_connection(cur):
    cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")


@pytest.fixture
def pool(database_url):
    pool = Database(database_url, size=2)
    yield pool
    pool.close()


def server_gone(sqlstate):
    """What a pooler in front of PostgreSQL passes on when the server connection behind it died,
    while the app's connection to the pooler stays open (raised here by PostgreSQL itself)."""
    def fail(cur):
        cur.execute(f"DO $$ BEGIN RAISE EXCEPTION 'server gone' USING ERRCODE = '{sqlstate}'; END $$")
    return fail


@pytest.mark.parametrize("failure", [kill_own_connection, *map(server_gone, ["08006", "57P01", "57P02", "57P03"])],
                         ids=["connection killed", "08006", "57P01", "57P02", "57P03"])
def test_work_whose_connection_dies_before_commit_runs_again_on_a_fresh_one(pool, db, failure):
    runs = []

    @retrying
    def work():
        runs.append(1)
        with pool.transaction() as cur:
            insert_user(cur)
            if len(runs) == 1:
                failure(cur)
    work()
    assert len(runs) == 2 and user_count(db) == 1


def test_nothing_runs_twice_once_something_committed(pool, db):
    runs = []

    @retrying
    def work():
        runs.append(1)
        with pool.transaction() as cur:
            insert_user(cur)
        with pool.transaction() as cur:
            kill_own_connection(cur)
    with pytest.raises(TransientFailure):
        work()
    assert len(runs) == 1 and user_count(db) == 1


def test_runs_are_bounded(pool):
    runs = []

    @retrying
    def work():
        runs.append(1)
        with pool.transaction() as cur:
            kill_own_connection(cur)
    with pytest.raises(TransientFailure):
        work()
    assert len(runs) == ATTEMPTS


def test_a_deadlocked_transaction_runs_again(pool, db, database_url):
    """Two transactions lock two rows in opposite orders: PostgreSQL rolls one back, which runs
    again and succeeds, so both finish."""
    with db.cursor() as cur:
        cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('A', 'a@example.com', 'x'), "
                    "('B', 'b@example.com', 'x')")
    both_hold_one = threading.Barrier(2, timeout=10)
    runs, errors = [], []

    @retrying
    def rename(first, second):
        runs.append(first)
        with pool.transaction() as cur:
            cur.execute("UPDATE users SET name = name || '+' WHERE email = %s", (first,))
            if runs.count(first) == 1:
                both_hold_one.wait()
            cur.execute("UPDATE users SET name = name || '+' WHERE email = %s", (second,))

    def run(*args):
        try:
            rename(*args)
        except Exception as exc:  # collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=run, args=pair, daemon=True)
               for pair in [("a@example.com", "b@example.com"), ("b@example.com", "a@example.com")]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == [] and len(runs) == 3
    with db.cursor() as cur:
        cur.execute("SELECT name FROM users ORDER BY email")
        assert [row[0] for row in cur.fetchall()] == ["A++", "B++"]


def answer_to(app, exc):
    with app.test_request_context():
        return app.make_response(app.handle_user_exception(exc))


def test_what_is_left_after_the_runs_is_a_409_for_a_conflict_and_a_503_for_a_lost_connection(app):
    conflict = answer_to(app, TransientFailure(psycopg2.errors.DeadlockDetected("deadlock detected")))
    assert conflict.status_code == 409 and conflict.json["error"]
    lost = answer_to(app, TransientFailure(psycopg2.OperationalError("server closed the connection unexpectedly")))
    assert lost.status_code == 503 and lost.headers["Retry-After"] == "5"


@contextmanager
def every_connection_held(pool):
    """Holds each of the pool's connections in a transaction, until the block ends. One thread
    per connection: transactions opened in one thread nest (savepoints) and would share one."""
    all_open, done = threading.Barrier(pool.size + 1, timeout=10), threading.Event()

    def hold_one():
        with pool.transaction() as cur:
            cur.execute("SELECT 1")
            all_open.wait()
            done.wait(30)
    threads = [threading.Thread(target=hold_one) for _ in range(pool.size)]
    for t in threads:
        t.start()
    all_open.wait()
    try:
        yield
    finally:
        done.set()
        for t in threads:
            t.join(10)


def fill_pool(app):
    """Leaves every connection of the app's pool open and idle."""
    with every_connection_held(app.extensions["runtime"].db):
        pass


def kill_pool(db):
    with db.cursor() as cur:
        cur.execute(KILL_POOL)
        killed = cur.fetchone()[0]
    assert wait_until(lambda: pool_size(db) == 0, 10)
    return killed


def pool_size(db):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'scheduler'")
        return cur.fetchone()[0]


def test_killed_pooled_connections_are_replaced_without_an_error(app, client, alice, db):
    """As after a failover: every pooled connection is gone, and the next requests all succeed."""
    fill_pool(app)
    assert kill_pool(db) == app.extensions["runtime"].db.size
    statuses = []
    for minute in range(0, 60, 6):
        statuses.append(client.post("/api/v1/bookings", json=slot(f"09:{minute:02}", f"09:{minute + 5:02}"),
                                    headers=alice.auth).status_code)
        statuses.append(client.get("/api/v1/notifications/count", headers=alice.auth).status_code)
    assert statuses == [201, 200] * 10


def test_a_booking_whose_connection_is_killed_mid_transaction_succeeds(app, alice, db):
    """The booking's connection dies while its transaction waits for Alice's lock: the handler
    runs again on a fresh connection, and exactly one booking results."""
    waiting = "SELECT pid FROM pg_stat_activity WHERE application_name = 'scheduler' AND wait_event = 'advisory'"
    answer = book_through_a_killed_backend(app, alice, db, waiting)
    assert answer.status_code == 201, answer.json
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings")
        assert cur.fetchone()[0] == 1


def killed_while_waiting(app, database_url, hold, call):
    """Runs `call(client)` while a transaction of ours holds what it needs (`hold`, SQL), kills
    the request's connection as it waits, then lets go; returns the answer."""
    app.test_client().get("/health")  # the first request of a fresh app is slow to start
    holder = psycopg2.connect(database_url)
    answers = []
    request = threading.Thread(target=lambda: answers.append(call(app.test_client())), daemon=True)
    waiting = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'scheduler'"
               " AND wait_event_type = 'Lock' AND datname = current_database()")
    try:
        with holder.cursor() as cur:
            cur.execute(hold)
            request.start()
            with holder.cursor() as watch:
                assert wait_until(lambda: watch.execute(waiting) or watch.rowcount == 1, 30), answers and answers[0].json
                watch.execute(f"SELECT pg_terminate_backend(pid) FROM ({waiting}) AS w")
    finally:
        holder.rollback()
        holder.close()
    request.join(30)
    assert answers, "the request did not answer"
    return answers[0]


def test_a_registration_whose_connection_is_killed_mid_transaction_succeeds_once(app, db, database_url):
    """Its insert waits for our uncommitted one of the same address, and its connection dies:
    it runs again (the password hashed once, before), and one account and one welcome result."""
    email = "once@example.com"
    r = killed_while_waiting(
        app, database_url,
        f"INSERT INTO users (name, email, email_key, password_hash) VALUES ('Held', '{email}', '{email}', 'x')",
        lambda client: client.post("/api/v1/auth/register",
                                   json={"name": "Once", "email": email, "password": "secure123"}))
    assert r.status_code == 201, r.json
    with db.cursor() as cur:
        cur.execute("SELECT name FROM users WHERE email = %s", (email,))
        assert cur.fetchall() == [("Once",)]
        cur.execute("SELECT count(*) FROM email_outbox WHERE recipient = %s", (email,))
        assert cur.fetchone()[0] == 1


def test_a_password_change_whose_connection_is_killed_mid_transaction_succeeds_once(app, client, alice, db,
                                                                                    database_url):
    r = killed_while_waiting(
        app, database_url, f"SELECT 1 FROM users WHERE id = {alice.id} FOR UPDATE",
        lambda client: client.patch("/api/v1/users/me/password", headers=alice.auth,
                                    json={"currentPassword": alice.password, "newPassword": "another-secret9"}))
    assert r.status_code == 200, r.json
    with db.cursor() as cur:
        cur.execute("SELECT token_version FROM users WHERE id = %s", (alice.id,))
        assert cur.fetchone()[0] == 1  # changed once
    assert client.get("/api/v1/auth/verify", headers={"Authorization": f"Bearer {r.json['token']}"}).status_code == 200
    assert client.post("/api/v1/auth/login", json={"email": alice.email,
                                                   "password": "another-secret9"}).status_code == 200


def test_a_pool_that_stays_busy_answers_503_with_retry_after(app, client, alice):
    pool = app.extensions["runtime"].db
    pool.wait_seconds = 0.2  # the wait before giving up (10 s in service) is not what is tested
    with every_connection_held(pool):
        r = client.get("/api/v1/notifications/count", headers=alice.auth)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and r.json["error"]
    assert client.get("/api/v1/notifications/count", headers=alice.auth).status_code == 200


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test's own, to stop and start."""
    server = PrivatePostgres()
    url = server.start()
    migrate(url)
    yield server, url
    server.stop()


@pytest.fixture
def own_redis():
    server = PrivateRedis()
    url = server.start()
    yield server, url
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def account(client):
    email = f"o-{uuid.uuid4().hex[:8]}@example.com"
    r = client.post("/api/v1/auth/register", json={"name": "O", "email": email, "password": "secure123"})
    assert r.status_code == 201, r.json
    return email, {"Authorization": f"Bearer {r.json['token']}"}


@contextmanager
def app_on(settings, **servers):
    """The app on this test's own servers, and its test client; its pool is closed afterwards."""
    app = create_app(settings.replace(**servers))
    try:
        yield app, app.test_client()
    finally:
        app.extensions["runtime"].db.close()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_database_outage_is_a_fast_503_with_retry_after_and_the_first_request_after_succeeds(settings, own_postgres,
                                                                                         redis_conn):
    server, url = own_postgres
    with app_on(settings, database_url=url) as (app, client):
        _, auth = account(client)
        fill_pool(app)
        server.halt()
        r, seconds = timed(lambda: client.post("/api/v1/bookings", json=slot("10:00", "11:00"), headers=auth))
        assert r.status_code == 503 and r.headers["Retry-After"].isdigit() and seconds < 1, (r.status_code, seconds)
        assert "Traceback" not in r.get_data(as_text=True)
        r = client.get("/health")
        assert r.status_code == 503 and r.headers["Retry-After"].isdigit()

        server.resume()
        r = client.post("/api/v1/bookings", json=slot("10:00", "11:00"), headers=auth)
        assert r.status_code == 201, r.json
        assert client.get("/api/v1/bookings", headers=auth).status_code == 200


def test_a_database_restart_costs_no_request(settings, own_postgres, redis_conn):
    server, url = own_postgres
    with app_on(settings, database_url=url) as (app, client):
        _, auth = account(client)
        fill_pool(app)
        server.halt()
        server.resume()
        statuses = [client.post("/api/v1/bookings", json=slot(f"{hour:02}:00", f"{hour:02}:30"),
                                headers=auth).status_code for hour in range(8, 14)]
        assert statuses == [201] * 6


def test_redis_down_a_booking_is_still_created(settings, own_redis):
    server, url = own_redis
    with app_on(settings, redis_url=url) as (app, client):
        email, auth = account(client)
        server.halt()
        r, seconds = timed(lambda: client.post("/api/v1/bookings", json=slot("10:00", "11:00"), headers=auth))
        assert r.status_code == 201 and seconds < 1
        r = client.post("/api/v1/auth/login", json={"email": email, "password": "secure123"})
        assert r.status_code == 200  # the failed-login limiter fails open
        assert client.get("/health").json["status"] == "DEGRADED"
        server.start()
        assert client.post("/api/v1/bookings", json=slot("12:00", "13:00"), headers=auth).status_code == 201


def test_a_frozen_redis_costs_a_booking_little(settings, own_redis):
    """A Redis that accepts connections but never answers (stopped with SIGSTOP)."""
    server, url = own_redis
    with app_on(settings, redis_url=url) as (app, client):
        try:
            email, auth = account(client)
            os.kill(server.process.pid, signal.SIGSTOP)
            r, seconds = timed(lambda: client.post("/api/v1/bookings", json=slot("10:00", "11:00"), headers=auth))
            assert r.status_code == 201 and seconds < 0.5, seconds
            r, seconds = timed(lambda: client.post("/api/v1/auth/login",
                                                   json={"email": email, "password": "secure123"}))
            assert r.status_code == 200 and seconds < 1, seconds
        finally:
            os.kill(server.process.pid, signal.SIGCONT)


def test_the_worker_waits_out_a_database_outage(settings, own_postgres, own_redis, mailbox, smtp_server, tmp_path):
    """Emails written before, during (by the sweep) and after a PostgreSQL outage all go out,
    through connections the worker had pooled before it."""
    pg, database_url = own_postgres
    _, redis_url = own_redis
    app = create_app(settings.replace(database_url=database_url, redis_url=redis_url))
    # Writes rows only the worker's sweep can find: this app's Redis is never there.
    sweep_only = create_app(settings.replace(database_url=database_url,
                                             redis_url=f"unix://{tmp_path}/absent.sock?db=0"))
    worker = worker_process(database_url, redis_url, smtp_server[1], OUTBOX_POLL_SECONDS="0.3")
    try:
        account(app.test_client())
        assert wait_until(lambda: len(mailbox.received()) == 1)

        pg.halt()
        time.sleep(1.5)  # several sweeps fail meanwhile
        assert worker.poll() is None, "the worker exited during the PostgreSQL outage"
        pg.resume()

        account(app.test_client())
        account(sweep_only.test_client())
        assert wait_until(lambda: len(mailbox.received()) == 3), "not every email went out after the outage"
    finally:
        worker.terminate()
        worker.wait(20)
        app.extensions["runtime"].db.close()
        sweep_only.extensions["runtime"].db.close()
