"""deploy/nginx run for real in front of gunicorn (gunicorn.conf.py): requests for other hosts
get no answer, secrets in paths stay out of nginx's access log, and a URI too long is refused
in the API's JSON shape by whichever of the two refuses it."""

import http.client
import json
import os
import socket
import time

import pytest

from bench.slow_clients import free_port, start_gunicorn, start_nginx, stop

TOKEN = "T0kenT0kenT0kenT0kenT0kenT0kenT0kenT0kenT0k"  # 43 characters, as a manage token
SECRET = "S3cretS3cretS3cretS3cretS3cretS3cretS3cretS"


@pytest.fixture(scope="module")
def stack(database_url, redis_url, tmp_path_factory):
    """gunicorn behind nginx; yields (nginx's port, gunicorn's port, nginx's directory)."""
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "JWT_SECRET": "test-secret-" + "x" * 32, "LOG_LEVEL": "WARNING", "EMAIL_PROVIDER": "console",
           "TRUSTED_PROXIES": "1", "WEB_CONCURRENCY": "1", "WEB_THREADS": "4"}
    web_port, proxy_port = free_port(), free_port()
    directory = tmp_path_factory.mktemp("nginx")
    web = start_gunicorn(env, web_port)
    try:
        proxy = start_nginx(str(directory), proxy_port, web_port)
    except Exception:
        stop(web)
        raise
    yield proxy_port, web_port, directory
    stop(proxy)
    stop(web)


def get(port, path, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def logged(directory, count, seconds=5):
    """nginx's access log once it has `count` lines (nginx writes a line after the answer)."""
    deadline = time.monotonic() + seconds
    while True:
        text = (directory / "access.log").read_text()
        if len(text.splitlines()) >= count or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_secrets_in_paths_are_redacted_in_the_access_log(stack):
    port, _, directory = stack
    before = len(logged(directory, 0).splitlines())
    paths = [f"/manage/{TOKEN}", f"/api/v1/guest-bookings/{TOKEN}", f"/api/v1/guest-bookings/{TOKEN}/reschedule?x=1",
             f"/calendar/{SECRET}.ics", f"//calendar//{SECRET}.ics", "/health?check=1",
             f"/manage/{TOKEN}?" + "x" * 10000]  # refused by nginx itself (414)
    for path in paths:
        get(port, path)
    # The stack's own readiness probes (plain /health) may land in the log meanwhile: not ours.
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in logged(directory, before + len(paths)).splitlines()[before:]
                 if '"GET /health HTTP/1.1"' not in line]
        if len(lines) >= len(paths) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == len(paths)
    assert not any(TOKEN in line or SECRET in line for line in lines), lines
    requests = [line.split('"')[1] for line in lines]
    assert requests == ["GET /manage/[token] HTTP/1.1", "GET /api/v1/guest-bookings/[token] HTTP/1.1",
                        "GET /api/v1/guest-bookings/[token]/reschedule?x=1 HTTP/1.1",
                        "GET /calendar/[secret].ics HTTP/1.1", "GET //calendar//[secret].ics HTTP/1.1",
                        "GET /health?check=1 HTTP/1.1", "GET  -"]  # a refused line is not logged


@pytest.mark.parametrize("host, path", [("evil.example", "/health"), ("127.0.0.1.evil.example", "/health"),
                                        (None, "/health"), ("evil.example", "/uri-too-long")])
def test_a_request_for_another_host_gets_no_answer(stack, host, path):
    port, _, _ = stack
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        header = f"Host: {host}\r\n" if host else ""  # HTTP/1.0 without Host: the default server too
        sock.sendall(f"GET {path} HTTP/1.{1 if host else 0}\r\n{header}\r\n".encode())
        try:
            answer = sock.recv(1024)
        except ConnectionResetError:  # reset_timedout_connection: 444 closes with a reset
            answer = b""
        assert answer == b""  # closed without a byte of HTTP
    assert get(port, "/health")[0] == 200  # as Host: 127.0.0.1, the recipe's server_name here


@pytest.mark.parametrize("length, through", [(5000, "gunicorn"), (5000, "nginx"), (10000, "nginx")])
def test_a_uri_too_long_is_a_json_414(stack, length, through):
    """gunicorn refuses request lines over 4094 bytes itself, before the app; nginx passes
    those through and refuses lines over its 8 KiB header buffers itself."""
    proxy_port, web_port, _ = stack
    status, content_type, body = get(proxy_port if through == "nginx" else web_port, "/health?" + "x" * length)
    assert status == 414 and content_type == "application/json", body
    assert "too long" in json.loads(body)["error"]
