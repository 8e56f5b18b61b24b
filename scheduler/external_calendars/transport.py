"""HTTP for calendars: requests over the egress guard, redirects followed (each hop connects
through the guard again), and a budget per fetch: FETCH_SECONDS and MAX_BYTES over all its
requests, so a slow or huge calendar ends as an error rather than holding a worker."""

import http.client
import ssl
import time
from base64 import b64encode
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ..egress import BlockedAddress, UnresolvableHost, exchange
from ..sealing import CALENDAR_PASSWORD
from . import CalendarError

USER_AGENT = "Scheduler-Calendars/1"
FETCH_SECONDS = 10
CONNECT_SECONDS = 3
MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
# Calendar apps hand out webcal:// for subscriptions: the same address over https.
SCHEMES = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def header(self):
        return "Basic " + b64encode(f"{self.username}:{self.password}".encode()).decode()


def stored_credentials(ring, username, password_sealed):
    """The Credentials a calendar row keeps (its password sealed with the key ring), None
    without a user name; SealError if the password can no longer be opened."""
    if not username:
        return None
    return Credentials(username, ring.open_text(bytes(password_sealed), CALENDAR_PASSWORD) if password_sealed else "")


def calendar_url(text):
    """The http(s) URL of what people paste (webcal:// read as https://, a #fragment dropped);
    ValueError says what is wrong."""
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError("must be a valid URL") from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise ValueError("must be an http://, https:// or webcal:// URL with a host")
    return urlunsplit((SCHEMES[parts.scheme.lower()], parts.netloc, parts.path, parts.query, ""))


def without_credentials(url):
    """(the URL without a user name and password, the Credentials it carried or None)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    return (urlunsplit((parts.scheme, host, parts.path, parts.query, "")),
            Credentials(unquote(parts.username or ""), unquote(parts.password or "")))


@dataclass
class Budget:
    """What one fetch (a refresh, or connecting a calendar) may still spend."""

    allow_private: bool
    deadline: float = field(default_factory=lambda: time.monotonic() + FETCH_SECONDS)
    bytes_left: int = MAX_BYTES

    def seconds_left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CalendarError(f"no complete answer within {FETCH_SECONDS} s")
        return left


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str  # where it came from, after redirects: relative hrefs are resolved against it


def origin(url):
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def request(budget, method, url, *, credentials=None, headers=None, body=None):
    """The answer to `method url`, following redirects. Credentials go only to the URL's own
    origin, never to another host a redirect names. Raises CalendarError."""
    first = origin(url)
    for _ in range(MAX_REDIRECTS + 1):
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if credentials is not None and origin(url) == first:
            sent["Authorization"] = credentials.header()
        response = one_request(budget, method, url, sent, body)
        location = response.headers.get("Location")
        if response.status not in REDIRECTS or not location:
            return response
        try:
            url = urljoin(url, location.strip())
            if urlsplit(url).scheme not in ("http", "https") or origin(url)[1] is None:
                raise CalendarError("the server redirected to an address that is not http or https")
        except ValueError:
            raise CalendarError("the server redirected to an invalid address") from None
        if response.status == 303:
            method, body = "GET", None
    raise CalendarError(f"more than {MAX_REDIRECTS} redirects")


def one_request(budget, method, url, headers, body):
    host = urlsplit(url).hostname or "the server"
    seconds = budget.seconds_left()
    try:
        answer = exchange(method, url, headers=headers, body=body, connect_timeout=min(CONNECT_SECONDS, seconds),
                          total_timeout=seconds, allow_private=budget.allow_private, read_limit=budget.bytes_left + 1)
    except BlockedAddress:
        raise CalendarError(f"refused address: {host} resolves to a private or reserved address") from None
    except UnresolvableHost:
        raise CalendarError(f"unreachable: {host} does not resolve") from None
    except ssl.SSLError:
        raise CalendarError(f"unreachable: no trusted TLS connection to {host}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() >= budget.deadline or isinstance(exc, TimeoutError):
            raise CalendarError(f"unreachable: {host} did not answer within {FETCH_SECONDS} s") from None
        # The exception's text can hold an address the name resolved to: not shown.
        raise CalendarError(f"unreachable: could not connect to {host}") from None
    if len(answer.body) > budget.bytes_left:
        raise CalendarError(f"too large: more than {MAX_BYTES // (1024 * 1024)} MB")
    budget.bytes_left -= len(answer.body)
    return Response(answer.status, answer.headers, answer.body, url)


def check_status(response):
    """CalendarError for an answer that is not a success, saying what kind of failure it is."""
    if 200 <= response.status < 300:
        return response
    if response.status in (401, 403):
        raise CalendarError(f"authentication failed (HTTP {response.status})")
    if response.status == 404:
        raise CalendarError("not found (HTTP 404)")
    raise CalendarError(f"the server answered HTTP {response.status}")
