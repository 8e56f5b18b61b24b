"""One HTTP request to someone else's server (a webhook's POST, a calendar write's PUT or
DELETE), bounded in time, to permitted addresses only (egress.exchange), told as an Outcome.
A 3xx is simply the answer, and a failure: nothing here follows redirects."""

import http.client
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from .egress import BlockedAddress, UnresolvableHost, exchange

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
    started = time.monotonic()
    try:
        answer = exchange(method, url, headers=headers, body=body, connect_timeout=connect_timeout,
                          total_timeout=total_timeout, allow_private=allow_private, read_limit=MAX_RESPONSE_BYTES)
        return Outcome(answer.status, elapsed_ms(started), retry_after=retry_after(answer.headers.get("Retry-After")))
    except (BlockedAddress, UnresolvableHost) as exc:
        return Outcome(None, elapsed_ms(started), f"refused: {exc}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() - started >= total_timeout:
            return Outcome(None, elapsed_ms(started), f"timed out after {total_timeout:g} s", timed_out=True)
        return Outcome(None, elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:500],
                       timed_out=isinstance(exc, TimeoutError))


def elapsed_ms(started):
    return int((time.monotonic() - started) * 1000)
