"""The web layer's way to the app's runtime (scheduler/runtime.py) during a request: its
settings, database, Redis and limiter, and the base URL links are built from. Nothing below
the web layer imports this module; it is handed what it needs."""

from flask import current_app

from .announcements import send
from .booking_write import BookingWrite


def runtime():
    return current_app.extensions["runtime"]


def settings():
    return runtime().settings


def redis_client():
    return runtime().redis


def limiter():
    return runtime().limiter


def transaction():
    return runtime().db.transaction()


def single_statement():
    return runtime().db.single_statement()


def site():
    """The base URL of the links the service writes (manage, booking, feed, next page):
    PUBLIC_BASE_URL, never the request's Host, which the client chooses."""
    return settings().public_base_url


def booking_write():
    """The one booking write (scheduler/booking_write.py), for this request."""
    return BookingWrite(runtime())


def send_messages(cur, messages):
    """Sends an event's messages with the change written on `cur` (announcements.send)."""
    send(runtime(), cur, messages)
