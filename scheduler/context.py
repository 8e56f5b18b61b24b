"""The current app's shared parts, for handlers."""

from flask import current_app


def settings():
    return current_app.config["SETTINGS"]


def redis_client():
    return current_app.extensions["redis"]


def limiter():
    return current_app.extensions["limiter"]
