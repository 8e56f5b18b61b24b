"""What every request gets: a request id, security headers, one log line."""

import logging
import re
import time
import uuid

from flask import g, request
from werkzeug.routing import IntegerConverter

log = logging.getLogger("scheduler.request")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def install_request_hooks(app):
    production = app.config["SETTINGS"].production

    @app.before_request
    def start():
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def finish(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        request_id = g.get("request_id", "-")
        response.headers["X-Request-ID"] = request_id
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info("%s %s %s %.1fms rid=%s", request.method, request.path, response.status_code, elapsed_ms, request_id)
        return response


class IdConverter(IntegerConverter):
    """Row ids in URLs: positive and within bigint, so the database never sees an impossible id."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**63 - 1)
