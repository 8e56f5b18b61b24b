"""All settings, read once from the environment (and `.env` in development) and validated."""

import os
import re
import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from email.utils import parseaddr
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from .keyring import KeyRing, development_ring

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
DEV_SECRET_KEYS = development_ring("dev-only-insecure-secret-keys-change-me")
ENVIRONMENTS = ("development", "test", "production")
EMAIL_PROVIDERS = ("console", "smtp", "inbox")
# Settings whose values an error message must not repeat.
SECRET_SETTINGS = frozenset({"secret_keys"})
DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# A setting's old name, still read when the new one is not set.
OLD_NAMES = {"EGRESS_ALLOW_PRIVATE": "WEBHOOK_ALLOW_PRIVATE"}
# Seconds between webhook attempts: the Standard Webhooks specification's example schedule.
WEBHOOK_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and why."""


def parse_duration(text):
    """'7d', '12h', '30m', '45s' or plain seconds -> seconds."""
    match = DURATION.match(text.strip().lower())
    if not match:
        raise ValueError("expected a number of seconds or a value like 30m, 12h, 7d")
    return int(match.group(1)) * DURATION_UNITS[match.group(2)]


def parse_bool(text):
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class Settings:
    """Field defaults are the production-safe ones; `from_mapping` fills in the defaults that
    depend on APP_ENV (see `environment_defaults`)."""

    app_env: str = "development"
    port: int = 8000
    public_base_url: str = ""
    database_url: str = "postgresql:///scheduler"
    redis_url: str = "redis://127.0.0.1:6379/0"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_expires: int = 7 * 86400
    secret_keys: KeyRing = DEV_SECRET_KEYS
    bcrypt_rounds: int = 12
    email_provider: str = "console"
    email_from: str = "Scheduler <noreply@scheduler.local>"
    email_inbox_dir: str = ".dev/inbox"
    smtp_url: str = ""
    email_rate_limit: int = 0
    email_retry_attempts: int = 3
    email_retry_backoff: int = 10
    outbox_poll_seconds: float = 5.0
    outbox_requeue_after: int = 30
    cors_origins: tuple = ()
    log_level: str = "INFO"
    db_pool_size: int = 8
    db_statement_timeout: int = 15
    db_lock_timeout: int = 2
    login_max_failures: int = 10
    login_failure_window: int = 900
    auth_ip_rate_limit: int = 0
    public_rate_limit: int = 0
    public_read_rate_limit: int = 0
    member_add_rate_limit: int = 20
    profile_change_rate_limit: int = 30
    api_key_rate_limit: int = 600
    trusted_proxies: int = 0
    dashboard_max_age: int = 60
    # Outbound HTTP (webhooks, calendars) may reach internal addresses (egress.py).
    egress_allow_private: bool = False
    webhook_retry_schedule: tuple = WEBHOOK_RETRY_SCHEDULE
    webhook_connect_timeout: float = 3.0
    webhook_timeout: float = 10.0
    webhook_concurrency: int = 8
    calendar_write_concurrency: int = 2
    idempotency_ttl: int = 86400
    sync_token_ttl: int = 7 * 86400
    retention_email_days: int = 30
    retention_webhook_days: int = 30
    retention_notification_days: int = 90
    retention_analytics_days: int = 400
    retention_batch: int = 1000
    retention_interval: int = 3600
    calendar_refresh_minutes: int = 10
    calendar_rate_limit: int = 30
    warnings: tuple = field(default=(), compare=False)

    @property
    def production(self):
        return self.app_env == "production"

    @cached_property  # parsing the address was a visible share of creating a booking
    def mail_domain(self):
        """The sender's domain: names Message-IDs and calendar UIDs."""
        return self.mail_address.rpartition("@")[2] or "scheduler.local"

    @cached_property
    def mail_address(self):
        """The sender's bare address: the organizer guests' calendars see."""
        return parseaddr(self.email_from)[1]

    @classmethod
    def from_env(cls, environ=None):
        """Read the environment; in development and test a `.env` file fills the gaps."""
        env = dict(os.environ if environ is None else environ)
        if env.get("APP_ENV", "development") != "production" and environ is None:
            env = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **env}
        return cls.from_mapping(env)

    @classmethod
    def from_mapping(cls, env):
        values, warnings = {}, []
        for name, parse in PARSERS.items():
            variable = name.upper()
            if not env.get(variable) and env.get(OLD_NAMES.get(variable)):
                variable = OLD_NAMES[variable]
            raw = env.get(variable)
            if raw is None or raw == "":
                continue
            try:
                values[name] = parse(raw)
            except ValueError as exc:
                shown = variable if name in SECRET_SETTINGS else f"{variable}={raw!r}"
                raise ConfigError(f"{shown} is invalid: {exc}") from None
        app_env = values.get("app_env", cls.app_env)
        for name, value in environment_defaults(app_env).items():
            values.setdefault(name, value)
        if "jwt_secret" not in values:
            if app_env == "production":
                raise ConfigError("JWT_SECRET is required in production (at least 32 random characters)")
            warnings.append("JWT_SECRET is not set: using a development-only secret")
        elif app_env == "production" and (len(values["jwt_secret"]) < 32 or values["jwt_secret"] == DEV_JWT_SECRET):
            raise ConfigError("JWT_SECRET is too weak for production: use at least 32 random characters")
        if "secret_keys" not in values:
            if app_env == "production":
                raise ConfigError("SECRET_KEYS is required in production: k1:<base64 of 32 random bytes> "
                                  "(openssl rand -base64 32)")
            warnings.append("SECRET_KEYS is not set: using a development-only key")
        elif app_env == "production" and DEV_SECRET_KEYS.keys[0][1] in dict(values["secret_keys"].keys).values():
            raise ConfigError("SECRET_KEYS holds the development-only key: not in production")
        if "public_base_url" not in values:
            if app_env == "production":
                raise ConfigError("PUBLIC_BASE_URL is required in production: the address people reach the "
                                  "service at, e.g. https://book.example.com (every link in pages, emails and "
                                  "answers starts with it)")
            values["public_base_url"] = f"http://127.0.0.1:{values.get('port', cls.port)}"
        if app_env == "production" and values.get("egress_allow_private"):
            warnings.append("EGRESS_ALLOW_PRIVATE (or WEBHOOK_ALLOW_PRIVATE) is on: webhooks and calendars can reach "
                            "this network's internal addresses")
        settings = cls(**values, warnings=tuple(warnings))
        settings.check()
        return settings

    def check(self):
        if self.production and self.email_provider == "inbox":
            raise ConfigError("EMAIL_PROVIDER=inbox only writes emails to files (EMAIL_INBOX_DIR): "
                              "not in production, use smtp")
        if 2 * self.db_lock_timeout >= self.db_statement_timeout:
            raise ConfigError("DB_LOCK_TIMEOUT must be less than half of DB_STATEMENT_TIMEOUT: a stuck holder of a "
                              "person's lock is noticed after one to two DB_LOCK_TIMEOUTs, within the statement's time")
        if self.email_provider == "smtp" and not self.smtp_url:
            raise ConfigError("EMAIL_PROVIDER=smtp needs SMTP_URL (smtp://user:pass@host:587 or smtps://...)")

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def environment_defaults(app_env):
    """Settings whose default depends on APP_ENV; a value set in the environment wins.

    Production: per-address rate limits on, webhooks and calendars refused for internal addresses,
    email logged (console) until SMTP is configured. Development (`make run`): webhooks and
    calendars may reach servers on this machine and network, and email is written whole to
    EMAIL_INBOX_DIR as .eml files. Test: as development, but email is only logged (the tests set their own).
    """
    if app_env == "production":
        return {"auth_ip_rate_limit": 30, "public_rate_limit": 20, "public_read_rate_limit": 120,
                "egress_allow_private": False, "email_provider": "console"}
    return {"egress_allow_private": True, "email_provider": "inbox" if app_env == "development" else "console"}


def one_of(choices):
    def parse(raw):
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value
    return parse


def int_between(low, high):
    def parse(raw):
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value
    return parse


def positive_float(raw):
    value = float(raw)
    if value <= 0:
        raise ValueError("expected a positive number")
    return value


def url(schemes):
    def parse(raw):
        value = raw.strip()
        if value.split(":", 1)[0] not in schemes:
            raise ValueError(f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return value
    return parse


def base_url(raw):
    """The service's public address: scheme, host, optional port and path, without a trailing slash."""
    value = raw.strip()
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an absolute http:// or https:// URL, e.g. https://book.example.com")
    if "?" in value or "#" in value:
        raise ValueError("must not have a query (?) or fragment (#): links are appended to it")
    if "@" in parts.netloc:
        raise ValueError("must not contain a user name or password")
    if parts.port == 0:  # reading the port also refuses one that is not a number up to 65535
        raise ValueError("expected a port from 1 to 65535")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def origins(raw):
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def log_level(raw):
    value = raw.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value


def duration(raw):
    seconds = parse_duration(raw)
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


def seconds_list(raw):
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ValueError("expected whole numbers of seconds separated by commas, e.g. 5,300,1800") from None
    if len(values) > 20 or not all(0 <= v <= 7 * 86400 for v in values):
        raise ValueError("expected at most 20 delays, each from 0 to 604800 seconds")
    return values


def timeout(raw):
    value = positive_float(raw)
    if value > 300:
        raise ValueError("expected at most 300 seconds")
    return value


PARSERS = {
    "app_env": one_of(ENVIRONMENTS),
    "port": int_between(1, 65535),
    "public_base_url": base_url,
    "database_url": url(("postgresql", "postgres")),
    "redis_url": url(("redis", "rediss", "unix")),
    "jwt_secret": str,
    "jwt_expires": duration,
    "secret_keys": KeyRing.parse,
    "bcrypt_rounds": int_between(4, 16),
    "email_provider": one_of(EMAIL_PROVIDERS),
    "email_from": str,
    "email_inbox_dir": str,
    "smtp_url": url(("smtp", "smtps")),
    "email_rate_limit": int_between(0, 1_000_000),
    "email_retry_attempts": int_between(1, 20),
    "email_retry_backoff": int_between(1, 3600),
    "outbox_poll_seconds": positive_float,
    "outbox_requeue_after": int_between(1, 86400),
    "cors_origins": origins,
    "log_level": log_level,
    "db_pool_size": int_between(1, 200),
    "db_statement_timeout": duration,
    "db_lock_timeout": duration,
    "login_max_failures": int_between(1, 1_000_000),
    "login_failure_window": duration,
    "auth_ip_rate_limit": int_between(0, 1_000_000),
    "public_rate_limit": int_between(0, 1_000_000),
    "public_read_rate_limit": int_between(0, 1_000_000),
    "member_add_rate_limit": int_between(0, 1_000_000),
    "profile_change_rate_limit": int_between(0, 1_000_000),
    "api_key_rate_limit": int_between(0, 1_000_000),
    "trusted_proxies": int_between(0, 10),
    "dashboard_max_age": int_between(1, 3600),
    "egress_allow_private": parse_bool,
    "webhook_retry_schedule": seconds_list,
    "webhook_connect_timeout": timeout,
    "webhook_timeout": timeout,
    "webhook_concurrency": int_between(1, 64),
    "calendar_write_concurrency": int_between(1, 64),
    "idempotency_ttl": duration,
    "sync_token_ttl": duration,
    "retention_email_days": int_between(1, 36500),
    "retention_webhook_days": int_between(1, 36500),
    "retention_notification_days": int_between(1, 36500),
    # The dashboard looks back at most 365 days: fewer would make its counts wrong.
    "retention_analytics_days": int_between(366, 36500),
    "retention_batch": int_between(1, 100_000),
    "retention_interval": duration,
    "calendar_refresh_minutes": int_between(1, 1440),
    "calendar_rate_limit": int_between(0, 1_000_000),
}
