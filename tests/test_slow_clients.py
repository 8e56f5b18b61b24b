"""The production shape, run for real: nginx (deploy/nginx, unprivileged, free ports) in front of
gunicorn (gunicorn.conf.py, the app on the test database). Slow and idle clients tie up nginx's
event loop, not gunicorn's threads, so an ordinary request stays fast."""

import http.client
import json
import os

import pytest

from bench.slow_clients import free_port, raise_fd_limit, start_gunicorn, start_nginx, stop, under_attack

SLOW, IDLE = 200, 2000


@pytest.fixture(scope="module")
def stack(database_url, redis_url, tmp_path_factory):
    """gunicorn behind nginx; yields nginx's port."""
    raise_fd_limit(SLOW + IDLE + 1000)  # before the servers start: they inherit it
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "JWT_SECRET": "test-secret-" + "x" * 32, "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING",
           "EMAIL_PROVIDER": "console", "TRUSTED_PROXIES": "1", "AUTH_IP_RATE_LIMIT": "3",
           "WEB_CONCURRENCY": "2"}
    web_port, proxy_port = free_port(), free_port()
    web = start_gunicorn(env, web_port)
    try:
        proxy = start_nginx(str(tmp_path_factory.mktemp("nginx")), proxy_port, web_port)
    except Exception:
        stop(web)
        raise
    yield proxy_port, web
    stop(proxy)
    stop(web)


def request(port, method, path, body=None, headers=()):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **dict(headers)})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.load
def test_slow_and_idle_clients_leave_other_requests_fast(stack):
    port, _ = stack
    result, attackers = under_attack(port, slow=SLOW, idle=IDLE, seconds=15)
    print(f"\nbehind nginx, {SLOW} slow + {IDLE} idle clients: {result.summary()}")
    assert result.failures == 0, result.summary()
    assert result.percentile(99) < 0.100, result.summary()
    # nginx cut every attacker off at its header timeout and they came back: the pressure held.
    assert attackers.reopened >= SLOW + IDLE and attackers.open_failures == 0


def test_a_forged_forwarded_for_does_not_escape_the_per_address_limit(stack, redis_conn):
    port, _ = stack
    statuses = [request(port, "POST", "/api/v1/auth/login", json.dumps({"email": "x@example.com", "password": "x"}),
                        {"X-Forwarded-For": f"203.0.113.{i}"})[0] for i in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_nginx_refuses_large_bodies_in_the_api_shape(stack):
    port, _ = stack
    status, headers, body = request(port, "POST", "/api/v1/analytics/event", b'{"x": "' + b"y" * 70000 + b'"}')
    assert status == 413 and headers["Content-Type"] == "application/json" and json.loads(body)["error"]


def test_a_body_of_exactly_64_kib_passes_through(stack):
    port, _ = stack
    body = b'{"eventType": "FULL"' + b" " * (65536 - 21) + b"}"  # valid JSON: padded with whitespace
    assert len(body) == 65536
    status, _, answer = request(port, "POST", "/api/v1/analytics/event", body)
    assert status == 201, answer


def test_gunicorn_down_is_a_json_503_with_retry_after(tmp_path):
    port = free_port()
    proxy = start_nginx(str(tmp_path), port, free_port())  # nothing listens upstream
    try:
        status, headers, body = request(port, "GET", "/health")
    finally:
        stop(proxy)
    assert status == 503 and headers["Retry-After"] == "5" and json.loads(body)["error"]
