"""What every request gets: a request id, security headers, one log line.

Done at the WSGI level, on plain lists of header tuples: as Flask request hooks, werkzeug's
Headers.setdefault raised and caught an exception per missing header, which made these few
headers cost as much as a whole /health request's handler."""

import logging
import re
import secrets
import time

from flask import request
from werkzeug.routing import BaseConverter, IntegerConverter

log = logging.getLogger("scheduler.request")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_KEY = "scheduler.request_id"
KEY_LOG_ENTRY = "scheduler.api_key"  # an API key's prefix (never the key), set by scheduler/auth.py

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
# A calendar feed's URL is its only credential: the log names the route, not the secret
# (however many slashes surround it: werkzeug serves //calendar/… and redirects /calendar//…).
FEED_SECRET = re.compile(r"/calendar/+[^/]*")
# A guest's manage token is the credential to their booking, in the page's and the API's path.
MANAGE_TOKEN = re.compile(r"/(manage|guest-bookings)/+[^/]*")
# A frame-ancestors directive naming something other than 'none'.
FRAMED_BY_SOME = re.compile(r"(?:^|;)\s*frame-ancestors\s+(?!'none'\s*(?:;|$))[^;\s]")
# Control characters (C0, DEL, C1) in a path could start a forged log line or drive a terminal.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def loggable_path(path):
    path = FEED_SECRET.sub("/calendar/[secret].ics", path)
    path = MANAGE_TOKEN.sub(r"/\1/[token]", path)
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", path)


class RequestEnvelope:
    """WSGI middleware: adds the security headers a response lacks, echoes or makes the
    X-Request-ID, and logs one line per request."""

    def __init__(self, app, *, production):
        self.app = app
        self.defaults = SECURITY_HEADERS + ((HSTS,) if production else ())

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if REQUEST_ID.match(incoming) else secrets.token_hex(16)
        environ[REQUEST_ID_KEY] = request_id

        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            if "content-security-policy" in present and framable(headers):
                present.add("x-frame-options")
            headers.extend(header for header in self.defaults if header[0].lower() not in present)
            headers.append(("X-Request-ID", request_id))
            if log.isEnabledFor(logging.INFO):
                log.info("%s %s %s %.1fms rid=%s%s", environ["REQUEST_METHOD"], loggable_path(environ.get("PATH_INFO", "")),
                         status.split(" ", 1)[0], (time.perf_counter() - started) * 1000, request_id,
                         f" key={environ[KEY_LOG_ENTRY]}" if KEY_LOG_ENTRY in environ else "")
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def framable(headers):
    """Whether the response's own policy lets some origins frame it (a booking page with
    embed_origins): X-Frame-Options DENY would then contradict it (it has no list of origins),
    so it is left out; browsers that know frame-ancestors obey that instead anyway."""
    return any(name.lower() == "content-security-policy" and FRAMED_BY_SOME.search(value) for name, value in headers)


def request_id():
    return request.environ.get(REQUEST_ID_KEY)


def numbers_up_to(limit):
    """A regex for the decimal numbers 1..limit, leading zeros allowed (as int() reads them)."""
    digits = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}"
    same_length = [digits]
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - position - 1
            same_length.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    return f"0*(?:{'|'.join(same_length)}|{shorter})"


class IdConverter(IntegerConverter):
    """Row ids in URLs: ASCII digits (werkzeug's \\d also takes "١"), positive and within
    bigint, so the database never sees an impossible id. The range is in the regex, not only
    in to_python: werkzeug checks the method before converting, so an id refused there
    answered 405 (naming methods that then said 404) instead of 404."""

    regex = numbers_up_to(2**63 - 1)

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**63 - 1)


class DayConverter(BaseConverter):
    """A date in a URL, YYYY-MM-DD by the description (scheduler/openapi.py). Any one path
    segment matches, so that the handler's 400 says what is wrong with one that is no date
    (2027-02-30, 2027-2-3) rather than a stricter regex answering 404."""
