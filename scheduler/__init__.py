"""Scheduler: a REST scheduling API on PostgreSQL, Redis and RQ."""

import logging
import time

import orjson
from flask import Flask
from flask.json.provider import JSONProvider as JSONProviderBase
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings
from .errors import register_error_handlers
from .http import DayConverter, IdConverter, RequestEnvelope
from .logs import configure_logging
from .runtime import Runtime

MAX_BODY_BYTES = 64 * 1024


class JSONProvider(JSONProviderBase):
    """orjson: several times faster than the standard library, and it writes times as
    RFC 3339 with an offset (Flask's default writes an RFC 822 date)."""

    def dumps(self, obj, **kwargs):
        return orjson.dumps(obj).decode()

    def loads(self, s, **kwargs):
        return orjson.loads(s)

    def response(self, *args, **kwargs):
        return self._app.response_class(orjson.dumps(self._prepare_response_obj(args, kwargs)),
                                        mimetype="application/json")


def create_app(settings=None):
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    for warning in settings.warnings:
        logging.getLogger("scheduler").warning("%s", warning)

    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, STARTED_AT=time.monotonic())
    app.extensions["runtime"] = Runtime.for_web(settings)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    if settings.cors_origins:
        CORS(app, origins=list(settings.cors_origins), expose_headers=["X-Request-ID", "Retry-After", "RateLimit-Policy", "RateLimit"])

    app.wsgi_app = RequestEnvelope(app.wsgi_app, production=settings.production)
    register_error_handlers(app)
    register_blueprints(app)
    from .auth import rate_limit_headers
    app.after_request(rate_limit_headers)

    from .cli import register_commands
    register_commands(app)
    return app


def register_blueprints(app):
    from . import pages
    from .api import (analytics, api_keys, auth, bookings, calendar, calendars, docs, event_types, guest, health,
                      notifications, organizations, public, schedules, team_event_types, time_off, users, webhooks)

    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["day"] = DayConverter
    app.register_blueprint(health.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(pages.bp)
    for module in (auth, users, bookings, organizations, notifications, analytics, webhooks, schedules, calendars):
        app.register_blueprint(module.bp, url_prefix=f"/api/v1/{module.bp.name}")
    app.register_blueprint(api_keys.bp, url_prefix="/api/v1/api-keys")
    app.register_blueprint(event_types.bp, url_prefix="/api/v1/event-types")
    app.register_blueprint(team_event_types.bp, url_prefix="/api/v1/organizations/<id:org_id>/event-types")
    app.register_blueprint(time_off.bp, url_prefix="/api/v1/users/me/time-off")
    app.register_blueprint(public.bp, url_prefix="/api/v1/public")
    app.register_blueprint(guest.bp, url_prefix="/api/v1/guest-bookings")

