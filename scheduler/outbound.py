"""One HTTP request to someone else's server (a webhook's POST, a calendar write's PUT or
DELETE), bounded in time, to permitted addresses only (egress.py).

The standard library's http.client is enough and adds no dependency: it never follows
redirects (a 3xx is simply the answer, and a failure), verifies certificates with the default
SSL context, and its connect step is the one seam needed to connect only to the address that
egress.connect checked.
"""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from .egress import BlockedAddress, UnresolvableHost, connect

# Enough of the answer to read its status; the body is not kept.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    status: int | None
    latency_ms: int
    error: str | None = None
    retry_after: float | None = None
    # No answer in time (to connect, or to the whole exchange): the endpoint may be hung.
    timed_out: bool = False

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300


class GuardedHTTPConnection(http.client.HTTPConnection):
    allow_private = False

    def connect(self):
        self.sock = connect(self.host, self.port, self.timeout, allow_private=self.allow_private)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedHTTPSConnection(http.client.HTTPSConnection, GuardedHTTPConnection):
    """HTTPSConnection.connect wraps what GuardedHTTPConnection.connect opened, checking the
    certificate against the URL's host name."""


def retry_after(value):
    """Seconds from a Retry-After header (seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def send(method, url, body, headers, *, connect_timeout, total_timeout, allow_private):
    """Sends the request and returns the Outcome; never raises for network trouble. The whole
    exchange ends after total_timeout seconds however slowly the server answers."""
    parts = urlsplit(url)
    kind = GuardedHTTPSConnection if parts.scheme == "https" else GuardedHTTPConnection
    options = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
    conn = kind(parts.hostname, parts.port, timeout=min(connect_timeout, total_timeout), **options)
    conn.allow_private = allow_private
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    # Socket timeouts bound each read; this bounds the total, against a receiver that
    # answers a byte at a time.
    watchdog = threading.Timer(total_timeout, close_quietly, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.connect()
        remaining = total_timeout - (time.monotonic() - started)
        if remaining <= 0:
            raise TimeoutError
        conn.sock.settimeout(remaining)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return Outcome(response.status, elapsed_ms(started),
                       retry_after=retry_after(response.getheader("Retry-After")))
    except (BlockedAddress, UnresolvableHost) as exc:
        return Outcome(None, elapsed_ms(started), f"refused: {exc}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() - started >= total_timeout:
            return Outcome(None, elapsed_ms(started), f"timed out after {total_timeout:g} s", timed_out=True)
        return Outcome(None, elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:500],
                       timed_out=isinstance(exc, TimeoutError))
    finally:
        watchdog.cancel()
        conn.close()


def close_quietly(conn):
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def elapsed_ms(started):
    return int((time.monotonic() - started) * 1000)
