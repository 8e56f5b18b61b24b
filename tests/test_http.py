import io
import uuid

import psycopg2
import pytest

from conftest import with_database
from helpers import YEAR
from scheduler import create_app


def test_unknown_route_is_json_404(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and r.json == {"error": "Route not found"}


@pytest.mark.parametrize("path", ["/api/v1/bookings/\u0661", "/api/v1/bookings/0", "/api/v1/bookings/-1",
                                  "/api/v1/bookings/99999999999999999999"])
def test_ids_in_paths_are_ascii_digits_in_range(client, alice, path):
    r = client.get(path, headers=alice.auth)
    assert r.status_code == 404 and r.json == {"error": "Route not found"}


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("booking_id", ["0", "9223372036854775808", "99999999999999999999"])
def test_impossible_ids_are_404_whatever_the_method(client, alice, method, booking_id):
    """Found by fuzzing: werkzeug checked the method before the id, so DELETE of an
    out-of-range id said 405 and named GET and PATCH as allowed, which then said 404."""
    r = client.open(f"/api/v1/bookings/{booking_id}", method=method, headers=alice.auth)
    assert r.status_code == 404 and r.json == {"error": "Route not found"}
    assert "Allow" not in r.headers


def test_largest_id_is_a_valid_one(client, alice):
    r = client.get("/api/v1/bookings/9223372036854775807", headers=alice.auth)
    assert r.status_code == 404 and r.json == {"error": "Booking not found"}


def test_wrong_method_is_json_405(client):
    r = client.put("/api/v1/bookings")
    assert r.status_code == 405 and r.json["error"]


def test_405_says_which_methods_are_allowed(client):
    """Found by fuzzing: the JSON 405 lost werkzeug's Allow header, which RFC 9110 requires."""
    r = client.open("/api/v1/bookings", method="TRACE")
    assert r.status_code == 405 and r.mimetype == "application/json"
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


@pytest.mark.parametrize("raw", [b'{"name": "A", "email": ', b"[1, 2]", b'"text"', b'{"a": NaN}', b"[" * 5000])
def test_malformed_or_non_object_json_is_400(client, raw):
    r = client.post("/api/v1/auth/register", data=raw, content_type="application/json")
    assert r.status_code == 400 and r.json["error"]


@pytest.mark.parametrize("path, body", [
    ("/api/v1/auth/login", b'{"email": "a@b.co", "password": "x", "z": ' + b"[" * 500 + b"]" * 500 + b"}"),
    ("/api/v1/analytics/event", b'{"eventType": "X", "metadata": ' + b'{"a": ' * 260 + b"1" + b"}" * 260 + b"}"),
])
def test_deeply_nested_json_is_400_not_500(client, alice, path, body):
    r = client.post(path, data=body, content_type="application/json", headers=alice.auth)
    assert r.status_code == 400 and "nest" in r.json["error"]


def test_wrong_content_type_is_415(client):
    r = client.post("/api/v1/auth/register", data="name=A", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415


def test_body_over_64_kib_is_413(client, alice):
    r = client.post("/api/v1/analytics/event", json={"eventType": "BIG", "metadata": {"x": "y" * 70000}})
    assert r.status_code == 413 and r.json["error"]


def test_chunked_body_over_64_kib_is_413_not_cut_short(client, alice):
    body = b'{"eventType": "BIG", "metadata": {"x": "' + b"y" * 70000 + b'"}}'
    r = client.post("/api/v1/analytics/event", input_stream=io.BytesIO(body), content_type="application/json",
                    headers={"Transfer-Encoding": "chunked", **alice.auth},
                    environ_overrides={"wsgi.input_terminated": True})  # as gunicorn sets it for chunked bodies
    assert r.status_code == 413 and r.json["error"]


def test_chunked_body_of_exactly_64_kib_is_accepted(client, alice):
    body = b'{"eventType": "FULL"' + b" " * (65536 - 21) + b"}"  # a valid event, padded with whitespace
    assert len(body) == 65536
    r = client.post("/api/v1/analytics/event", input_stream=io.BytesIO(body), content_type="application/json",
                    headers={"Transfer-Encoding": "chunked", **alice.auth}, environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 201, r.json


class BrokenChunks(io.RawIOBase):
    """What gunicorn's body reader does with a chunk size that is not hex."""

    def readinto(self, buffer):
        from gunicorn.http.errors import InvalidChunkSize
        raise InvalidChunkSize(b"zz")


def test_malformed_chunked_framing_is_400(client, alice):
    r = client.post("/api/v1/analytics/event", content_type="application/json",
                    headers={"Transfer-Encoding": "chunked", **alice.auth},
                    environ_overrides={"wsgi.input": BrokenChunks(), "wsgi.input_terminated": True})
    assert r.status_code == 400 and r.json["error"]


def test_security_headers_on_every_response(client):
    for r in (client.get("/health"), client.get("/api/v1/nope")):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]


def test_request_id_is_echoed_or_made(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = client.get("/health", headers={"X-Request-ID": "bad id with spaces " * 5}).headers["X-Request-ID"]
    assert len(made) == 32 and made.isalnum()


def test_one_log_line_per_request(client, caplog):
    caplog.set_level("INFO", logger="scheduler.request")
    client.get("/health", headers={"X-Request-ID": "rid-1"})
    lines = [r.getMessage() for r in caplog.records if r.name == "scheduler.request"]
    assert len(lines) == 1 and lines[0].startswith("GET /health 200 ") and lines[0].endswith("rid=rid-1")


def test_control_characters_in_a_path_cannot_forge_log_lines(client, caplog):
    caplog.set_level("INFO", logger="scheduler.request")
    client.get("/api/v1/x%0a2026-11-25 ERROR forged%0d%1b[31m")
    [line] = [r.getMessage() for r in caplog.records if r.name == "scheduler.request"]
    assert line.startswith("GET /api/v1/x\\x0a2026-11-25 ERROR forged\\x0d\\x1b[31m 404 ")


def test_no_secrets_in_logs(client, caplog):
    caplog.set_level("DEBUG")
    client.post("/api/v1/auth/register", json={"name": "A", "email": "a@example.com", "password": "hunter2-secret"})
    assert "hunter2-secret" not in caplog.text


def test_cors_only_for_configured_origins(settings, redis_conn):
    app = create_app(settings.replace(cors_origins=("https://app.example.com",)))
    client = app.test_client()
    ok = client.get("/health", headers={"Origin": "https://app.example.com"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in client.get("/health", headers={"Origin": "https://evil.example"}).headers
    app.extensions["runtime"].db.close()


def test_no_cors_headers_by_default(client):
    assert "Access-Control-Allow-Origin" not in client.get("/health", headers={"Origin": "https://x.example"}).headers


def test_health_reports_dependencies(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json["status"] == "OK" and r.json["checks"] == {"database": "ok", "redis": "ok"}
    assert {"uptime", "timestamp", "environment"} <= set(r.json)


def test_health_is_503_when_the_database_is_down(settings, redis_conn):
    app = create_app(settings.replace(database_url="postgresql://nobody@127.0.0.1:1/none"))
    r = app.test_client().get("/health")
    assert r.status_code == 503 and r.json["status"] == "UNAVAILABLE" and r.json["checks"]["database"] == "down"


def test_health_sees_a_recovered_database_at_the_next_probe(settings, redis_conn, db):
    """A failed check was kept for a second: a load balancer kept a recovered host out."""
    name = f"health_{uuid.uuid4().hex[:8]}"
    app = create_app(settings.replace(database_url=with_database(settings.database_url, name)))
    assert app.test_client().get("/health").status_code == 503
    with db.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        assert app.test_client().get("/health").status_code == 200
    finally:
        app.extensions["runtime"].db.close()
        with db.cursor() as cur:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_api_answers_503_not_500_when_the_database_is_down(settings, redis_conn, alice):
    app = create_app(settings.replace(database_url="postgresql://nobody@127.0.0.1:1/none"))
    r = app.test_client().get("/api/v1/bookings", headers=alice.auth)
    assert r.status_code == 503 and r.json["error"] and "Traceback" not in r.get_data(as_text=True)


def test_health_is_degraded_when_redis_is_down(settings, redis_conn):
    app = create_app(settings.replace(redis_url="redis://127.0.0.1:1/0"))
    r = app.test_client().get("/health")
    assert r.status_code == 200 and r.json["status"] == "DEGRADED" and r.json["checks"]["redis"] == "down"
    app.extensions["runtime"].db.close()


def test_unexpected_errors_are_a_bare_500_with_request_id(app, client):
    @app.get("/boom")
    def boom():
        raise psycopg2.ProgrammingError("secret detail")
    r = client.get("/boom", headers={"X-Request-ID": "req-9"})
    assert r.status_code == 500
    assert r.json == {"error": "Internal server error", "request_id": "req-9"}


@pytest.mark.parametrize("path, body", [
    ("/api/v1/auth/register", {"name": "A\u0000b", "email": "nul@example.com", "password": "secure123"}),
    ("/api/v1/auth/login", {"email": "a\u0000@example.com", "password": "x"}),
    ("/api/v1/bookings", {"title": "a\u0000b", "start": f"{YEAR}-01-01T09:00:00Z", "end": f"{YEAR}-01-01T10:00:00Z"}),
    ("/api/v1/analytics/event", {"eventType": "X", "metadata": {"k": ["a\u0000b"]}}),
    ("/api/v1/analytics/event", {"eventType": "X", "metadata": {"k\u0000": 1}}),
    ("/api/v1/organizations", {"name": "a\u0000b"}),
])
def test_nul_characters_are_400_not_500(client, alice, path, body):
    r = client.post(path, json=body, headers=alice.auth)
    assert r.status_code == 400 and "NUL" in r.json["error"]


def test_nul_in_a_profile_update_is_400(client, alice):
    assert client.patch("/api/v1/users/me", json={"name": "a\u0000"}, headers=alice.auth).status_code == 400
