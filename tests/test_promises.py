"""Promises the README makes that no other test would notice breaking: the outbox's lease and
backoff, Message-IDs, the reminder index, the email rate limit, SMTP over TLS with a login, the
per-address and per-account limits, proxies, HSTS, login timing and the acceptance rule."""

import subprocess
import time
from datetime import timedelta
from urllib.parse import urlencode

import bcrypt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import Mailbox, free_port
from helpers import slot
from scheduler import auth, clock, create_app
from scheduler.delivery import emails as delivery
from scheduler.runtime import start_worker
from scheduler.ratelimit import key_for
from scheduler.repositories import email_outbox

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"


def rows(db, where="TRUE"):
    with db.cursor() as cur:
        cur.execute(f"SELECT id, status, attempts, send_after FROM email_outbox WHERE {where} ORDER BY id")
        return cur.fetchall()


def welcome_id(db):
    [(email_id, *_)] = rows(db, "template = 'WELCOME'")
    return email_id


# The outbox

def test_a_row_left_sending_by_a_crashed_worker_is_retaken_when_its_lease_ends(alice, worker, mailbox, db, travel):
    rt = worker()
    mailbox.clear()
    email_id = welcome_id(db)
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0, sent_at = NULL WHERE id = %s", (email_id,))
    with rt.db.transaction() as cur:  # a worker claims the row, then dies before sending
        assert email_outbox.claim(cur, email_id, now=clock.now(), lease_seconds=delivery.LEASE_SECONDS)
    travel(timedelta(minutes=1))
    assert delivery.sweep(rt) == []
    delivery.deliver(email_id)
    assert mailbox.received() == [] and rows(db, f"id = {email_id}")[0][1] == "sending"

    travel(timedelta(seconds=delivery.LEASE_SECONDS))
    assert delivery.sweep(rt) == [email_id]
    worker()
    assert [m["To"] for m in mailbox.received()] == [alice.email]
    assert rows(db, f"id = {email_id}")[0][1:3] == ("sent", 2)


def test_each_retry_waits_twice_as_long_as_the_one_before(alice, settings, worker, db):
    worker()
    rt = start_worker(settings.replace(email_retry_attempts=5, email_retry_backoff=60))
    rt.mail_provider.port = 1  # nothing listens there: every attempt fails
    email_id = welcome_id(db)
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0 WHERE id = %s", (email_id,))
    delays = []
    for _ in range(4):
        with db.cursor() as cur:
            cur.execute("UPDATE email_outbox SET send_after = now() - interval '1 second' WHERE id = %s", (email_id,))
        before = clock.now()
        delivery.deliver(email_id)
        after = clock.now()
        send_after = rows(db, f"id = {email_id}")[0][3]
        delays.append((send_after - after, send_after - before))  # the delay lies between the two
    rt.db.close()
    for (shortest, longest), expected in zip(delays, (60, 120, 240, 480)):
        assert shortest <= timedelta(seconds=expected) <= longest


def test_the_message_id_is_the_same_for_every_send_of_a_row_and_differs_between_rows(client, alice, worker, mailbox, db):
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    worker()
    first = {m["To"] + m["Subject"]: m["Message-ID"] for m in mailbox.received()}
    mailbox.clear()
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0 WHERE reminder_minutes IS NULL")
        cur.execute("SELECT id FROM email_outbox WHERE reminder_minutes IS NULL")
        for (email_id,) in cur.fetchall():
            delivery.deliver(email_id)
    again = {m["To"] + m["Subject"]: m["Message-ID"] for m in mailbox.received()}
    assert len(first) == 2 and again == first
    assert len(set(first.values())) == 2


def test_a_reminder_sent_by_a_worker_whose_clock_runs_ahead_is_not_made_again(client, alice, set_profile, worker,
                                                                              mailbox, travel):
    """A worker host a minute ahead sends the reminder; then the booking is renamed on a web
    host whose clock has not reached the reminder's time yet, so it schedules the same reminder
    again. Only the unique index stops that copy."""
    set_profile(alice, reminders=[60])
    start = (clock.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    r = client.post("/api/v1/bookings", json={"title": "Call", "start": start.isoformat(),
                                              "end": (start + timedelta(hours=1)).isoformat()}, headers=alice.auth)
    booking = r.json["booking"]
    rt = worker()
    mailbox.clear()

    ahead = start - timedelta(minutes=60) - clock.now() + timedelta(seconds=30)
    travel(ahead)  # the worker's host
    delivery.sweep(rt)
    worker()
    travel(-ahead)  # the web host, 30 s before the reminder is due
    renamed = client.patch(f"/api/v1/bookings/{booking['id']}", json={"title": "Call, renamed"}, headers=alice.auth)
    assert renamed.status_code == 200

    travel(ahead + timedelta(minutes=5))
    delivery.sweep(rt)
    worker()
    assert len([m for m in mailbox.received() if m["Subject"].startswith("Reminder:")]) == 1


class FakeMinutes:
    """Stands in for the time module inside scheduler.delivery.emails: its wall clock starts
    early in a minute and sleeping advances it; the rest is the real module."""

    def __init__(self):
        self.now = (time.time() // 60) * 60 + 1  # early in a minute
        self.slept = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def __getattr__(self, name):
        return getattr(time, name)


def test_email_rate_limit_holds_sends_over_the_limit_until_the_next_minute(settings, worker, mailbox, db,
                                                                           redis_conn, monkeypatch):
    app = create_app(settings)
    for i in range(3):
        r = app.test_client().post(REGISTER, json={"name": f"R{i}", "email": f"r{i}@example.com", "password": "secure123"})
        assert r.status_code == 201
    app.extensions["runtime"].db.close()
    rt = start_worker(settings.replace(email_rate_limit=2))
    minutes = FakeMinutes()
    monkeypatch.setattr(delivery, "time", minutes)
    window = int(minutes.now // 60)
    for (email_id, *_) in rows(db):
        delivery.deliver(email_id)
    rt.db.close()
    assert len(mailbox.received()) == 3
    assert minutes.slept == [pytest.approx(59.01)]  # the third waited for the next minute
    assert int(redis_conn.get(f"ratelimit:email:{window}")) == 3  # counted in Redis, for every worker
    assert int(redis_conn.get(f"ratelimit:email:{window + 1}")) == 1


# SMTP with TLS and a login, against a real aiosmtpd server

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1; returns (cert, key) paths."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def tls_context(certificate):
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


class Accounts:
    """aiosmtpd authenticator: one account; remembers who logged in."""

    def __init__(self, user, password):
        self.user, self.password, self.logins = user.encode(), password.encode(), []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == self.user and auth_data.password == self.password
        if ok:
            self.logins.append((mechanism, auth_data.login.decode()))
        return AuthResult(success=ok)


@pytest.fixture
def tls_smtp(certificate, monkeypatch):
    """Starts an SMTP server that needs TLS and a login; yields (mailbox, accounts, start)."""
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # our client trusts this server's certificate
    started = []

    def start(implicit):
        mailbox, accounts, port = Mailbox(), Accounts("mailer", "p@ss word"), free_port()
        # aiosmtpd's auth_require_tls looks for STARTTLS only; with TLS from the start the
        # whole session is encrypted anyway.
        options = {"ssl_context": tls_context(certificate), "auth_require_tls": False} if implicit else {
            "tls_context": tls_context(certificate), "require_starttls": True, "auth_require_tls": True}
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=accounts,
                                auth_required=True, **options)
        controller.start()
        started.append(controller)
        return mailbox, accounts, port
    yield start
    for controller in started:
        controller.stop()


def send_welcome(settings, smtp_url):
    rt = start_worker(settings.replace(smtp_url=smtp_url))
    app = create_app(settings)
    app.test_client().post(REGISTER, json={"name": "Tia", "email": "tia@example.com", "password": "secure123"})
    app.extensions["runtime"].db.close()
    with rt.db.transaction() as cur:
        cur.execute("SELECT id FROM email_outbox")
        [row] = cur.fetchall()
    delivery.deliver(row["id"])
    with rt.db.transaction() as cur:
        cur.execute("SELECT status, last_error FROM email_outbox")
        status = cur.fetchone()
    rt.db.close()
    return status


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("scheme, implicit", [("smtp", False), ("smtps", True)])
def test_smtp_over_tls_with_a_login(settings, tls_smtp, scheme, implicit, redis_conn):
    mailbox, accounts, port = tls_smtp(implicit)
    query = "" if implicit else "?starttls=true"
    status = send_welcome(settings, f"{scheme}://mailer:p%40ss%20word@127.0.0.1:{port}{query}")
    assert status == {"status": "sent", "last_error": None}
    assert [m["To"] for m in mailbox.received()] == ["tia@example.com"]
    assert accounts.logins and accounts.logins[0][1] == "mailer"


def test_smtp_refuses_a_server_whose_certificate_it_does_not_trust(settings, tls_smtp, monkeypatch, redis_conn):
    mailbox, _, port = tls_smtp(implicit=False)
    monkeypatch.delenv("SSL_CERT_FILE")
    status = send_welcome(settings, f"smtp://mailer:p%40ss%20word@127.0.0.1:{port}?starttls=true")
    assert status["status"] == "pending" and "CERTIFICATE_VERIFY_FAILED" in status["last_error"]
    assert mailbox.received() == []


# Limits on the auth routes

def test_register_is_limited_per_address(settings, redis_conn):
    app = create_app(settings.replace(auth_ip_rate_limit=3))
    client = app.test_client()
    statuses = [client.post(REGISTER, json={"name": "R", "email": f"r{i}@example.com", "password": "secure123"}
                            ).status_code for i in range(4)]
    app.extensions["runtime"].db.close()
    assert statuses == [201, 201, 201, 429]


def test_failed_logins_are_forgotten_when_the_window_ends(settings, alice, redis_conn):
    app = create_app(settings.replace(login_max_failures=2, login_failure_window=1))
    client = app.test_client()
    for _ in range(2):
        assert client.post(LOGIN, json={"email": alice.email, "password": "wrong-guess"}).status_code == 401
    blocked = client.post(LOGIN, json={"email": alice.email, "password": alice.password})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) <= 1
    key = key_for("login", alice.email)
    deadline = time.monotonic() + 5
    while redis_conn.exists(key) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.post(LOGIN, json={"email": alice.email, "password": alice.password}).status_code == 200
    app.extensions["runtime"].db.close()


def test_trusted_proxies_decide_which_forwarded_address_counts(settings, redis_conn):
    def statuses(trusted, forwarded_for):
        redis_conn.flushdb()
        app = create_app(settings.replace(auth_ip_rate_limit=2, trusted_proxies=trusted))
        client = app.test_client()
        result = [client.post(LOGIN, json={"email": "x@example.com", "password": "x"},
                              headers={"X-Forwarded-For": value}).status_code for value in forwarded_for]
        app.extensions["runtime"].db.close()
        return result
    # Behind one proxy, the address it appends is the client's, whatever the client put first.
    assert statuses(1, ["10.0.0.1", "10.0.0.2", "10.0.0.1", "6.6.6.6, 10.0.0.1"]) == [401, 401, 401, 429]
    # Without a trusted proxy the header is the client's own claim and is ignored.
    assert statuses(0, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [401, 401, 429]


def test_built_urls_take_their_scheme_and_host_from_public_base_url_not_from_proxies(settings, alice, redis_conn):
    def feed_url(trusted, proto):
        app = create_app(settings.replace(trusted_proxies=trusted, public_base_url="https://book.example.test"))
        url = app.test_client().post("/api/v1/users/me/calendar-feed", headers={
            **alice.auth, "X-Forwarded-Proto": proto, "X-Forwarded-For": "10.0.0.1",
            "X-Forwarded-Host": "evil.example"}).json["url"]
        app.extensions["runtime"].db.close()
        return url
    assert all(feed_url(trusted, proto).startswith("https://book.example.test/calendar/")
               for trusted in (0, 1) for proto in ("http", "https"))


def test_production_sends_hsts_and_other_environments_do_not(settings, redis_conn):
    def hsts(app_env):
        app = create_app(settings.replace(app_env=app_env))
        header = app.test_client().get("/health").headers.get("Strict-Transport-Security")
        app.extensions["runtime"].db.close()
        return header
    assert hsts("production") == "max-age=31536000; includeSubDomains"
    assert hsts("test") is None


# Login timing: an unknown e-mail and a wrong password cost the same

@pytest.fixture
def bcrypt_checks(monkeypatch):
    """Records the cost of every bcrypt check the app makes (bcrypt still runs)."""
    checks, real = [], bcrypt.checkpw

    def counting(password, hashed):
        checks.append(hashed[:7])  # b"$2b$NN$": the algorithm and its cost
        return real(password, hashed)
    monkeypatch.setattr(auth.bcrypt, "checkpw", counting)
    return checks


def test_unknown_email_and_wrong_password_each_run_one_bcrypt_check_of_the_same_cost(client, alice, bcrypt_checks):
    assert client.post(LOGIN, json={"email": alice.email, "password": "wrong-guess"}).status_code == 401
    wrong = list(bcrypt_checks)
    bcrypt_checks.clear()
    assert client.post(LOGIN, json={"email": "nobody@example.com", "password": "wrong-guess"}).status_code == 401
    assert len(wrong) == 1 and bcrypt_checks == wrong


# The acceptance rule, from the inviter's side

def test_a_member_who_has_not_accepted_cannot_invite_or_look(client, alice, bob):
    org = client.post("/api/v1/organizations", json={"name": "Team"}, headers=bob.auth).json["organization"]
    assert client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": alice.email},
                       headers=bob.auth).status_code == 201
    meeting = slot("10:00", "11:00", title="Probe") | {"attendees": [bob.id]}
    window = f"/api/v1/organizations/{org['id']}/availability?" + urlencode({"from": meeting["start"], "to": meeting["end"]})

    refused = client.post("/api/v1/bookings", json=meeting, headers=alice.auth)
    assert refused.status_code == 400
    assert client.get(window, headers=alice.auth).status_code == 403

    assert client.post(f"/api/v1/organizations/{org['id']}/accept", headers=alice.auth).status_code == 200
    assert client.get(window, headers=alice.auth).status_code == 200
    assert client.post("/api/v1/bookings", json=meeting, headers=alice.auth).status_code == 201
