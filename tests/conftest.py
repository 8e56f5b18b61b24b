"""Fixtures over real services: a throw-away PostgreSQL database built by migrate.py's own
code, a Redis database flushed around each test, an SMTP server (aiosmtpd) that keeps what
it receives, and a real RQ worker run in burst mode."""

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis
from aiosmtpd.controller import Controller
from rq import SimpleWorker

from migrate import migrate
from scheduler import create_app, jobs
from scheduler.config import Settings
from scheduler.runtime import start_worker
from browser import browser, chromium, live_server  # noqa: F401  (fixtures)
from pgbouncer import pgbouncer, pgbouncer_url  # noqa: F401  (fixtures)
from caldav_server import radicale  # noqa: F401  (fixture)
from conformance import ConformingClient
from helpers import SECRET_KEYS

TABLES = ("analytics_events", "notifications", "bookings", "event_types", "organization_members", "organizations",
          "revoked_tokens", "email_outbox", "webhook_attempts", "webhook_deliveries", "webhook_endpoints",
          "users", "idempotency_keys")


def with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


# Tests run a second time through PgBouncer by `make test-pgbouncer`: together they reach
# every route and the worker (its email jobs and sweep). Not those that cut the database's
# backends (`cut_database` finds them by the app's name, which PgBouncer's do not carry), nor
# those marked `direct` (a session lock taken and released through PgBouncer may land on two
# server connections, and the one holding it then blocks every later test).
PGBOUNCER_MODULES = {"test_auth", "test_users", "test_bookings", "test_attendees", "test_listing",
                     "test_organizations", "test_notifications", "test_analytics", "test_calendar",
                     "test_event_types", "test_guest_bookings", "test_email", "test_worker",
                     "test_reminders", "test_races", "test_retention", "test_pgbouncer", "test_idempotency",
                     "test_etags", "test_sync", "test_webhooks_api", "test_webhooks", "test_webhook_worker",
                     "test_schedules", "test_time_off",
                     "test_calendars_api", "test_caldav", "test_calendar_worker", "test_team_event_types"}


def pytest_collection_modifyitems(items):
    for item in items:
        if (item.module.__name__ in PGBOUNCER_MODULES and "cut_database" not in item.fixturenames
                and not item.get_closest_marker("direct")):
            item.add_marker(pytest.mark.pgbouncer)


@pytest.fixture(scope="session")
def database_url(request, direct_database_url):
    """The test database; through PgBouncer in transaction mode when TEST_THROUGH_PGBOUNCER is set."""
    if os.environ.get("TEST_THROUGH_PGBOUNCER"):
        return request.getfixturevalue("pgbouncer_url")
    return direct_database_url


@pytest.fixture(scope="session")
def direct_database_url():
    server = os.environ.get("DATABASE_URL", "postgresql:///postgres")
    name = f"scheduler_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    migrate(url)
    yield url
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def redis_url():
    return os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


class Mailbox:
    """An SMTP handler that keeps every message it is given."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        # Called with each message after it is kept and before the sender hears "250 OK":
        # lets a test break something between a send and its recording.
        self.on_message = None

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope)
        if self.on_message:
            self.on_message(envelope)
        return "250 OK"

    def received(self):
        import email
        from email import policy
        with self.lock:
            return [email.message_from_bytes(e.content, policy=policy.default) for e in self.messages]

    def clear(self):
        with self.lock:
            self.messages.clear()
        self.on_message = None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def cut_database(database_url):
    """cut() ends the worker's connections and refuses new ones to the test database for
    `seconds`, as a PostgreSQL restart or failover does."""
    server = psycopg2.connect(with_database(database_url, "postgres"))
    server.autocommit = True
    name = urlsplit(database_url).path.lstrip("/")
    timers = []

    def allow(flag):
        with server.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {flag}')

    def cut(seconds):
        allow("false")
        with server.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND application_name = 'scheduler'", (name,))
        timers.append(threading.Timer(seconds, allow, args=("true",)))
        timers[-1].start()
    yield cut
    for timer in timers:
        timer.cancel()
        timer.join(10)
    allow("true")
    server.close()


@pytest.fixture
def mailbox(smtp_server):
    box, _ = smtp_server
    box.clear()
    return box


@pytest.fixture
def settings(database_url, redis_url, smtp_server):
    return Settings.from_mapping({
        "APP_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        # The host werkzeug's test client sends, so links the tests follow reach the test app.
        "PUBLIC_BASE_URL": "http://localhost",
        "JWT_SECRET": "test-secret-" + "x" * 32, "SECRET_KEYS": SECRET_KEYS, "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING", "EMAIL_PROVIDER": "smtp", "SMTP_URL": smtp_server[1], "EMAIL_FROM": "Scheduler <noreply@scheduler.test>",
        "EMAIL_RETRY_BACKOFF": "1", "OUTBOX_REQUEUE_AFTER": "1",
        # Webhook receivers in tests listen on 127.0.0.1, and no URL a test (or the fuzzer)
        # registers is looked up in DNS; tests of the refusal turn it off.
        "WEBHOOK_ALLOW_PRIVATE": "true",
    })


@pytest.fixture
def redis_conn(redis_url):
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def db(database_url):
    """A plain connection for looking at what the API wrote."""
    conn = psycopg2.connect(database_url)  # in UTC: the database's default (migrate.py)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(autouse=True)
def empty_tables(database_url):
    """Every test starts from empty tables, whatever wrote to them before."""
    yield
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    conn.close()


@pytest.fixture
def app(settings, redis_conn):
    application = create_app(settings)
    application.test_client_class = ConformingClient
    yield application
    application.extensions["runtime"].db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class User:
    id: int
    email: str
    name: str
    password: str
    token: str

    @property
    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def register(client):
    def make(name="Alice", password="secure123", email=None):
        email = email or f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        r = client.post("/api/v1/auth/register", json={"name": name, "email": email, "password": password})
        assert r.status_code == 201, r.json
        return User(r.json["user"]["id"], email, name, password, r.json["token"])
    return make


@pytest.fixture
def alice(register):
    return register("Alice")


@pytest.fixture
def bob(register):
    return register("Bob")


@pytest.fixture
def worker(settings, redis_conn):
    """Runs a real RQ worker over the real queue until it is empty."""
    runtime = start_worker(settings)

    def drain():
        SimpleWorker([jobs.email_queue(redis_conn)], connection=redis_conn).work(burst=True, logging_level="WARNING")
        return runtime
    yield drain
    runtime.db.close()


@pytest.fixture
def admin(client, register, db):
    user = register("Admin")
    with db.cursor() as cur:
        cur.execute("UPDATE users SET role = 'admin' WHERE id = %s", (user.id,))
    return user


@pytest.fixture
def travel():
    """Moves the service's clock forward; back to real time after the test."""
    from scheduler import clock
    yield clock.travel
    clock.reset()


@pytest.fixture
def org_of(client):
    """Puts users in one organisation (the first one owns it, the others accept) so they can
    invite each other and see each other's availability."""
    def make(owner, *members):
        org = client.post("/api/v1/organizations", json={"name": "Team"}, headers=owner.auth).json["organization"]
        for member in members:
            r = client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": member.email},
                            headers=owner.auth)
            assert r.status_code == 201
            assert client.post(f"/api/v1/organizations/{org['id']}/accept", headers=member.auth).status_code == 200
        return org
    return make


@pytest.fixture
def set_profile(client):
    def update(user, **fields):
        r = client.patch("/api/v1/users/me", json=fields, headers=user.auth)
        assert r.status_code == 200, r.json
        return r.json["user"]
    return update


@pytest.fixture
def receiver():
    """Starts real HTTP receivers (tests/receivers.py) for webhooks; stops them after the test."""
    from receivers import Receiver
    started = []

    def start(*answers, tls=None):
        started.append(Receiver(answers, tls=tls))
        return started[-1]
    yield start
    for server in started:
        server.stop()


@pytest.fixture
def hung_listener():
    """Starts hung receivers (tests/receivers.py): they accept connections and never answer."""
    from receivers import HungListener
    started = []

    def start():
        started.append(HungListener())
        return started[-1]
    yield start
    for listener in started:
        listener.stop()


def queue_worker(queue):
    """A fixture that runs a real RQ worker over `queue` (a jobs.*_queue) until it is empty and
    returns the worker's runtime."""
    @pytest.fixture
    def drains(worker, redis_conn):
        runtime = worker()

        def drain():
            SimpleWorker([queue(redis_conn)], connection=redis_conn).work(burst=True, logging_level="WARNING")
            return runtime
        return drain
    return drains


webhook_worker = queue_worker(jobs.webhook_queue)
calendar_worker = queue_worker(jobs.calendar_queue)


@pytest.fixture
def feeds():
    """An HTTP server on 127.0.0.1 serving iCalendar feeds (tests/calendar_servers.py)."""
    from calendar_servers import FeedServer
    server = FeedServer()
    yield server
    server.stop()


@pytest.fixture
def caldav_accounts(tmp_path):
    """Radicale, a real CalDAV server, in this process on 127.0.0.1 with two accounts and
    helpers to fill their calendars (tests/calendar_servers.py); `radicale` (tests/caldav_server.py)
    is one that a test can stop and start again."""
    from calendar_servers import Radicale
    server = Radicale(tmp_path, {"ada": "ada-secret", "bea": "bea-secret"})
    yield server
    server.stop()
