"""The app, the worker and migrate.py through PgBouncer in transaction pooling mode: they connect
(no startup `options`), the database's own defaults stand in for per-session settings, and no
session state is left on a server connection for the next client's transaction."""


import psycopg2
import psycopg2.extensions
import pytest

from conftest import free_port
from helpers import book_through_a_killed_backend, slot
from migrate import migrate
from pgbouncer import PgBouncer
from scheduler.db import Database
from scheduler.delivery import emails as delivery
from scheduler.runtime import start_worker

# Parameters PgBouncer itself sets on a server connection for the client it lends it to.
PGBOUNCER_TRACKED = {"application_name", "client_encoding", "DateStyle", "TimeZone", "standard_conforming_strings"}


@pytest.fixture
def one_server_connection(direct_database_url):
    """A PgBouncer with one server connection: every client's transactions run on it in turn."""
    bouncer = PgBouncer(direct_database_url, free_port(), pool_size=1).start()
    yield bouncer.url(psycopg2.extensions.parse_dsn(direct_database_url)["dbname"])
    bouncer.stop()


def session_state(url):
    """What a transaction on the (one) server connection finds left by earlier ones."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            cur.execute("SELECT name FROM pg_settings WHERE source = 'session'")
            settings = {row[0] for row in cur.fetchall()} - PGBOUNCER_TRACKED
            cur.execute("SELECT current_setting('timezone'), current_setting('statement_timeout'),"
                        " current_setting('random_page_cost')")
            defaults = cur.fetchone()
            cur.execute("SELECT count(*) FROM pg_prepared_statements")
            prepared = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_listening_channels()")
            listening = cur.fetchone()[0]
            cur.execute("SELECT pg_my_temp_schema() <> 0")
            temp_tables = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_cursors")
            cursors = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            advisory = cur.fetchone()[0]
    finally:
        conn.close()
    return pid, {"settings": settings, "defaults": defaults, "prepared": prepared, "listening": listening,
                 "temp_tables": temp_tables, "cursors": cursors, "advisory_locks": advisory}


CLEAN = {"settings": set(), "defaults": ("UTC", "15s", "1.1"), "prepared": 0, "listening": 0,
         "temp_tables": False, "cursors": 0, "advisory_locks": 0}


def test_the_pool_runs_transactions_through_pgbouncer_with_the_databases_defaults(pgbouncer_url):
    pool = Database(pgbouncer_url, size=2)
    try:
        with pool.transaction() as cur:
            cur.execute("SELECT current_setting('timezone') AS tz, current_setting('statement_timeout') AS timeout,"
                        " current_setting('random_page_cost') AS cost")
            assert cur.fetchone() == {"tz": "UTC", "timeout": "15s", "cost": "1.1"}
        with pool.single_statement() as cur:
            cur.execute("SELECT now()::text AS now")
            assert cur.fetchone()["now"].endswith("+00")
    finally:
        pool.close()


def test_migrate_runs_through_pgbouncer_and_sets_the_configured_timeout(pgbouncer_url):
    try:
        assert migrate(pgbouncer_url, statement_timeout=7) == []
        with Database(pgbouncer_url, size=1).transaction() as cur:
            cur.execute("SELECT setting FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
                        " CROSS JOIN unnest(s.setconfig) AS setting WHERE d.datname = current_database()")
            assert "statement_timeout=7s" in {row["setting"] for row in cur.fetchall()}
    finally:
        migrate(pgbouncer_url)


@pytest.fixture
def settings(settings, one_server_connection):
    """The app and the worker of these tests share PgBouncer's one server connection."""
    return settings.replace(database_url=one_server_connection)


def test_no_session_state_is_left_for_the_next_clients_transaction(client, register, org_of, worker, settings,
                                                                   mailbox):
    before, _ = session_state(settings.database_url)
    alice, bob = register("Alice"), register("Bob")
    org_of(alice, bob)
    r = client.post("/api/v1/bookings", json={**slot("09:00", "10:00"), "attendees": [bob.id]}, headers=alice.auth)
    assert r.status_code == 201, r.json
    assert client.post("/api/v1/bookings", json=slot("09:30", "10:30"), headers=bob.auth).status_code == 409
    assert client.get("/api/v1/bookings", headers=bob.auth).status_code == 200
    assert client.get("/api/v1/notifications", headers=bob.auth).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=alice.auth).status_code == 200
    worker()
    delivery.sweep(start_worker(settings))
    assert len(mailbox.received()) >= 2

    after, state = session_state(settings.database_url)
    assert after == before  # the same server connection served every client above
    assert state == CLEAN


def test_a_request_whose_server_connection_dies_behind_pgbouncer_runs_again(client, alice, direct_database_url):
    """PgBouncer keeps the app's connection when the server connection behind it is terminated
    mid-transaction, and passes on the server's error: the booking runs again and is made once."""
    holder = psycopg2.connect(direct_database_url)
    holder.autocommit = True
    waiting = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'"
               " AND pid <> pg_backend_pid()")
    try:
        answer = book_through_a_killed_backend(client.application, alice, holder, waiting)
        assert answer.status_code == 201, answer.json
        with holder.cursor() as cur:
            cur.execute("SELECT count(*) FROM bookings")
            assert cur.fetchone()[0] == 1
    finally:
        holder.close()
