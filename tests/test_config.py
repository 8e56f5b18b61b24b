import base64
import runpy
from pathlib import Path

import pytest
from dotenv import dotenv_values

from scheduler.config import ConfigError, Settings
from helpers import PRODUCTION


def test_production_refuses_a_missing_secret():
    with pytest.raises(ConfigError, match="JWT_SECRET is required"):
        Settings.from_mapping({"APP_ENV": "production"})


@pytest.mark.parametrize("secret", ["short", "dev-only-insecure-jwt-secret-change-me"])
def test_production_refuses_a_weak_secret(secret):
    with pytest.raises(ConfigError, match="JWT_SECRET is too weak"):
        Settings.from_mapping({"APP_ENV": "production", "JWT_SECRET": secret})


def test_development_warns_about_the_default_secret():
    settings = Settings.from_mapping({})
    assert settings.warnings and "JWT_SECRET" in settings.warnings[0]


def test_production_refuses_missing_secret_keys():
    with pytest.raises(ConfigError, match="SECRET_KEYS is required"):
        Settings.from_mapping({key: value for key, value in PRODUCTION.items() if key != "SECRET_KEYS"})


def test_development_warns_about_the_default_secret_keys_and_production_refuses_them():
    settings = Settings.from_mapping({})
    assert any("SECRET_KEYS" in warning for warning in settings.warnings)
    development = "dev:" + base64.b64encode(settings.secret_keys.key("dev")).decode()
    with pytest.raises(ConfigError, match="development-only key"):
        Settings.from_mapping({**PRODUCTION, "SECRET_KEYS": development})


def test_secret_keys_are_parsed_current_first():
    one, two = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    ring = Settings.from_mapping({"SECRET_KEYS": f" k2:{two} , k1:{one}"}).secret_keys
    assert ring.ids == ("k2", "k1") and ring.current_id == "k2" and ring.key("k1") == bytes([1]) * 32
    assert one not in repr(ring) and "k1" in repr(ring)


@pytest.mark.parametrize("value, why", [
    ("k1", "entries like"), ("k1:not base64!", "not base64"), ("k1:" + base64.b64encode(b"x" * 16).decode(), "16 bytes"),
    ("k1:{key},k1:{key}", "appears twice"), ("bad id:{key}", "entries like"), (" , ", "at least one key"),
])
def test_invalid_secret_keys_say_why_without_showing_the_keys(value, why):
    key = base64.b64encode(b"k" * 32).decode()
    with pytest.raises(ConfigError, match=why) as raised:
        Settings.from_mapping({"SECRET_KEYS": value.format(key=key)})
    assert "SECRET_KEYS" in str(raised.value) and key not in str(raised.value)


@pytest.mark.parametrize("name, value", [
    ("BCRYPT_ROUNDS", "3"), ("BCRYPT_ROUNDS", "many"), ("PORT", "0"), ("APP_ENV", "staging"),
    ("EMAIL_PROVIDER", "pigeon"), ("DATABASE_URL", "mysql://x"), ("JWT_EXPIRES", "soon"), ("LOG_LEVEL", "LOUD"),
])
def test_invalid_values_name_the_setting(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_mapping({name: value})


def test_smtp_needs_a_url():
    with pytest.raises(ConfigError, match="SMTP_URL"):
        Settings.from_mapping({"EMAIL_PROVIDER": "smtp"})


def test_the_lock_timeout_must_leave_room_within_the_statement_timeout():
    assert Settings.from_mapping({"DB_LOCK_TIMEOUT": "7s"}).db_lock_timeout == 7
    with pytest.raises(ConfigError, match="DB_LOCK_TIMEOUT must be less than half of DB_STATEMENT_TIMEOUT"):
        Settings.from_mapping({"DB_LOCK_TIMEOUT": "8s"})
    with pytest.raises(ConfigError, match="DB_LOCK_TIMEOUT"):
        Settings.from_mapping({"DB_LOCK_TIMEOUT": "0"})


def test_values_are_parsed():
    settings = Settings.from_mapping({"JWT_EXPIRES": "7d", "CORS_ORIGINS": "https://a.example, https://b.example/",
                                      "BCRYPT_ROUNDS": "10", "EMAIL_PROVIDER": "SMTP", "SMTP_URL": "smtp://h:25"})
    assert settings.jwt_expires == 604800 and settings.bcrypt_rounds == 10 and settings.email_provider == "smtp"
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize("env, bind", [
    ({}, "127.0.0.1:8000"),
    ({"APP_ENV": "development", "PORT": "8100"}, "127.0.0.1:8100"),
    ({"APP_ENV": "production", "PORT": "5000"}, "0.0.0.0:5000"),
    ({"HOST": "0.0.0.0"}, "0.0.0.0:8000"),
])
def test_gunicorn_listens_beyond_this_machine_only_in_production(monkeypatch, env, bind):
    """Outside production the JWT secret may be the public development one."""
    for name in ("APP_ENV", "PORT", "HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert runpy.run_path(str(Path(__file__).parent.parent / "gunicorn.conf.py"))["bind"] == bind


def test_webhook_settings_are_parsed():
    settings = Settings.from_mapping({"WEBHOOK_RETRY_SCHEDULE": "0, 5,60", "WEBHOOK_ALLOW_PRIVATE": "true",
                                      "WEBHOOK_TIMEOUT": "2.5"})
    assert settings.webhook_retry_schedule == (0, 5, 60) and settings.egress_allow_private is True
    assert settings.webhook_timeout == 2.5
    assert Settings.from_mapping({}).webhook_retry_schedule == (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def test_webhook_concurrency_and_timeouts_default_to_a_pool_of_short_attempts():
    settings = Settings.from_mapping({})
    assert (settings.webhook_concurrency, settings.webhook_connect_timeout, settings.webhook_timeout) == (8, 3, 10)
    assert Settings.from_mapping({"WEBHOOK_CONCURRENCY": "3"}).webhook_concurrency == 3


@pytest.mark.parametrize("name, value", [
    ("WEBHOOK_RETRY_SCHEDULE", "5,soon"), ("WEBHOOK_RETRY_SCHEDULE", "-1"), ("WEBHOOK_RETRY_SCHEDULE", ",".join("1" * 21)),
    ("WEBHOOK_ALLOW_PRIVATE", "maybe"), ("WEBHOOK_TIMEOUT", "0"), ("WEBHOOK_CONNECT_TIMEOUT", "301"),
    ("WEBHOOK_CONCURRENCY", "0"), ("WEBHOOK_CONCURRENCY", "65"), ("WEBHOOK_CONCURRENCY", "many"),
])
def test_invalid_webhook_settings_name_the_setting(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_mapping({name: value})


def test_production_warns_when_webhooks_may_reach_internal_addresses():
    settings = Settings.from_mapping({**PRODUCTION,
                                      "WEBHOOK_ALLOW_PRIVATE": "1"})
    assert any("WEBHOOK_ALLOW_PRIVATE" in warning for warning in settings.warnings)


@pytest.mark.parametrize("env, threads, connections", [({}, 32, 1000),
                                                      ({"WEB_THREADS": "1200", "WEB_CONNECTIONS": "4000"}, 1200, 4000)])
def test_gunicorn_threads_and_connections_come_from_the_environment(monkeypatch, env, threads, connections):
    """Facing clients directly needs more of both (docs/deploy.md)."""
    for name in ("WEB_THREADS", "WEB_CONNECTIONS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(Path(__file__).parent.parent / "gunicorn.conf.py"))
    assert (config["threads"], config["worker_connections"]) == (threads, connections)


@pytest.mark.parametrize("app_env, allow_private", [("development", True), ("test", True), ("production", False)])
def test_webhooks_may_reach_internal_addresses_by_default_only_outside_production(app_env, allow_private):
    """So a receiver on this machine can be tried without restarting `make run`."""
    settings = Settings.from_mapping({**PRODUCTION, "APP_ENV": app_env})
    assert settings.egress_allow_private is allow_private
    assert not any("WEBHOOK_ALLOW_PRIVATE" in warning for warning in settings.warnings)


@pytest.mark.parametrize("app_env, value, allow_private", [
    ("development", "false", False), ("test", "0", False), ("production", "true", True),
])
def test_an_explicit_webhook_allow_private_wins(app_env, value, allow_private):
    settings = Settings.from_mapping({**PRODUCTION, "APP_ENV": app_env,
                                      "WEBHOOK_ALLOW_PRIVATE": value})
    assert settings.egress_allow_private is allow_private


@pytest.mark.parametrize("env, allow_private", [
    ({"EGRESS_ALLOW_PRIVATE": "false"}, False), ({"WEBHOOK_ALLOW_PRIVATE": "false"}, False),
    ({"EGRESS_ALLOW_PRIVATE": "false", "WEBHOOK_ALLOW_PRIVATE": "true"}, False),
    ({"EGRESS_ALLOW_PRIVATE": "", "WEBHOOK_ALLOW_PRIVATE": "false"}, False),
])
def test_egress_allow_private_is_the_new_name_and_wins_over_the_old(env, allow_private):
    assert Settings.from_mapping({"APP_ENV": "development", **env}).egress_allow_private is allow_private


def test_calendar_settings_are_parsed():
    assert (Settings.from_mapping({}).calendar_refresh_minutes, Settings.from_mapping({}).calendar_rate_limit) == (10, 30)
    assert Settings.from_mapping({"CALENDAR_REFRESH_MINUTES": "3"}).calendar_refresh_minutes == 3
    with pytest.raises(ConfigError, match="CALENDAR_REFRESH_MINUTES"):
        Settings.from_mapping({"CALENDAR_REFRESH_MINUTES": "0"})


def test_an_empty_webhook_allow_private_is_the_default():
    """`.env.example` copied as it is leaves the setting empty: the environment's default."""
    assert Settings.from_mapping({"WEBHOOK_ALLOW_PRIVATE": ""}).egress_allow_private is True


@pytest.mark.parametrize("app_env, provider", [("development", "inbox"), ("test", "console"), ("production", "console")])
def test_the_default_email_provider_depends_on_the_environment(app_env, provider):
    settings = Settings.from_mapping({**PRODUCTION, "APP_ENV": app_env})
    assert settings.email_provider == provider
    assert settings.email_inbox_dir == ".dev/inbox"


def test_an_explicit_email_provider_wins_in_development():
    assert Settings.from_mapping({"EMAIL_PROVIDER": "console"}).email_provider == "console"
    settings = Settings.from_mapping({"EMAIL_PROVIDER": "inbox", "APP_ENV": "test", "EMAIL_INBOX_DIR": "/tmp/mail"})
    assert (settings.email_provider, settings.email_inbox_dir) == ("inbox", "/tmp/mail")


def test_production_refuses_the_inbox():
    """It would write every email to a file and deliver none."""
    with pytest.raises(ConfigError, match="EMAIL_PROVIDER=inbox"):
        Settings.from_mapping({**PRODUCTION,
                               "EMAIL_PROVIDER": "inbox"})


def test_production_rate_limits_stay_on_by_default():
    settings = Settings.from_mapping(PRODUCTION)
    assert (settings.auth_ip_rate_limit, settings.public_rate_limit) == (30, 20)
    assert (Settings.from_mapping({}).auth_ip_rate_limit, Settings.from_mapping({}).public_rate_limit) == (0, 0)


def test_env_example_copied_as_it_is_keeps_the_development_defaults():
    """The newcomer's first step is `cp .env.example .env`: that must not switch them off."""
    example = {k: v for k, v in dotenv_values(Path(__file__).parent.parent / ".env.example").items() if v is not None}
    settings = Settings.from_mapping(example)
    assert settings.app_env == "development"
    assert (settings.email_provider, settings.email_inbox_dir, settings.egress_allow_private) == ("inbox", ".dev/inbox", True)


def test_calendar_write_concurrency_defaults_to_two_threads_and_is_bounded():
    assert Settings.from_mapping({}).calendar_write_concurrency == 2
    assert Settings.from_mapping({"CALENDAR_WRITE_CONCURRENCY": "5"}).calendar_write_concurrency == 5
    for value in ("0", "65", "many"):
        with pytest.raises(ConfigError, match="CALENDAR_WRITE_CONCURRENCY"):
            Settings.from_mapping({"CALENDAR_WRITE_CONCURRENCY": value})
