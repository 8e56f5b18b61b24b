"""gunicorn settings; every value can be overridden from the environment."""

import ctypes
import json
import multiprocessing
import os

from gunicorn.http.errors import LimitRequestLine
from gunicorn.util import write_nonblock
from gunicorn.workers.gthread import ThreadWorker

M_ARENA_MAX = -8  # glibc's mallopt parameter


class JSONRefusalThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, except that a request line longer than limit_request_line
    (4094 bytes by default) is refused in the API's JSON error shape instead of gunicorn's
    HTML page: gunicorn answers it itself, before the app sees the request."""

    def handle_error(self, req, client, addr, exc):
        if not isinstance(exc, LimitRequestLine):
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        body = json.dumps({"error": f"Request URI too long (limit {self.cfg.limit_request_line} bytes "
                                    "for the request line)"}).encode()
        head = ("HTTP/1.1 414 URI Too Long\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        try:
            write_nonblock(client, head + body)
        except OSError:  # the client has gone: nothing to answer
            self.log.debug("Failed to send the 414 answer.")


# Reachable from other machines only in production (or when HOST says so): elsewhere the JWT
# secret may be the development one, which is public.
host = os.environ.get("HOST") or ("0.0.0.0" if os.environ.get("APP_ENV") == "production" else "127.0.0.1")
bind = f"{host}:{os.environ.get('PORT') or 8000}"
# One process per core, each with threads that overlap database waits and bcrypt (which
# releases the GIL). Measured with shared/bench on 2 cores: 2x8 served as much as 4x4, 3x6
# or 6x2 (differences within run-to-run noise) with half the memory of 4 processes. 32
# threads, not 8: a login waiting its turn for bcrypt holds a thread, and with 8 a burst of
# logins took every thread, so an unread-count probe beside them waited (p99 379-747 ms,
# bench/login_probe.py); with 32 its p99 was 10-14 ms, and other routes served as much.
# gevent and 4 processes served small reads faster but were not kept (docs/performance.md,
# issue 25): gevent let one busy request hold up its process (/health p99 1 s), 4 processes
# failed that login probe, and both lost 35-40% on create_booking.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
worker_class = JSONRefusalThreadWorker
threads = int(os.environ.get("WEB_THREADS") or 32)
# Open connections per process. Behind nginx (deploy/nginx) each request is one short
# connection; gunicorn facing clients directly needs room for idle ones (docs/deploy.md).
worker_connections = int(os.environ.get("WEB_CONNECTIONS") or 1000)
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs one line per request itself
errorlog = "-"
# The control socket would live in $HOME and clash between instances; nothing here uses it.
control_socket_disable = True


def cap_malloc_arenas(limit=2):
    """glibc gives threads their own malloc arenas (up to 8 per core); with 32 threads that
    cost ~10 MB more per process under load. Set in the master, inherited by every worker;
    MALLOC_ARENA_MAX in the environment still wins."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, limit)
    except OSError:  # not glibc: nothing to cap
        pass


cap_malloc_arenas()
