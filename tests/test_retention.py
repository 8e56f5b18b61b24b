"""Bounded data: the retention job deletes each kind of finished row past its age, in batches,
touches nothing live, and runs in one worker at a time."""

import psycopg2
import pytest

from scheduler import retention
from scheduler.config import ConfigError, Settings
from scheduler.db import Database
from scheduler.repositories.locks import lock_named


@pytest.fixture
def pool(database_url):
    database = Database(database_url, size=2)
    yield database
    database.close()


def emails(db, *rows):
    """rows: (label, status, days since due, days since sent or None)."""
    with db.cursor() as cur:
        for label, status, due_days, sent_days in rows:
            cur.execute(
                "INSERT INTO email_outbox (recipient, template, status, send_after, sent_at, created_at)"
                " VALUES (%s, 'WELCOME', %s, now() - make_interval(days => %s),"
                " now() - make_interval(days => %s), now() - make_interval(days => %s))",
                (label, status, due_days, sent_days, due_days),
            )


def notes(db, user_id, *rows):
    """rows: (label, read, days old)."""
    with db.cursor() as cur:
        for label, read, days in rows:
            cur.execute(
                "INSERT INTO notifications (user_id, type, title, message, is_read, created_at)"
                " VALUES (%s, 'X', %s, '', %s, now() - make_interval(days => %s))",
                (user_id, label, read, days),
            )


def events(db, *rows):
    """rows: (label, days old)."""
    with db.cursor() as cur:
        for label, days in rows:
            cur.execute("INSERT INTO analytics_events (event_type, created_at)"
                        " VALUES (%s, now() - make_interval(days => %s))", (label, days))


def deliveries(db, user_id, *rows):
    """rows: (label, status, days since the last attempt, days since delivered or None)."""
    with db.cursor() as cur:
        cur.execute("INSERT INTO webhook_endpoints (user_id, url, events, secret_sealed)"  # never opened here
                    " VALUES (%s, 'https://example.com/hook', '{booking.created}', 'x') RETURNING id", (user_id,))
        endpoint = cur.fetchone()[0]
        for label, status, attempt_days, delivered_days in rows:
            cur.execute(
                "INSERT INTO webhook_deliveries (endpoint_id, message_id, type, payload, status, max_attempts,"
                " next_attempt_at, delivered_at) VALUES (%s, %s, 'booking.created', '{}', %s, 10,"
                " now() - make_interval(days => %s), now() - make_interval(days => %s))",
                (endpoint, label, status, attempt_days, delivered_days))
            cur.execute("INSERT INTO webhook_attempts (delivery_id, latency_ms)"
                        " SELECT id, 1 FROM webhook_deliveries WHERE message_id = %s", (label,))


def idempotency_keys(db, *rows):
    """rows: (key, hours until expiry, negative if expired)."""
    with db.cursor() as cur:
        for key, hours in rows:
            cur.execute("INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, expires_at)"
                        " VALUES ('user:1', %s, '', 201, '', now() + make_interval(hours => %s))", (key, hours))


def revocations(db, user_id, *rows):
    """rows: (jti, hours until expiry, negative if expired)."""
    with db.cursor() as cur:
        for jti, hours in rows:
            cur.execute("INSERT INTO revoked_tokens (jti, user_id, expires_at)"
                        " VALUES (%s, %s, now() + make_interval(hours => %s))", (jti, user_id, hours))


def left(db, query):
    with db.cursor() as cur:
        cur.execute(query)
        return sorted(row[0] for row in cur.fetchall())


def test_each_kind_is_deleted_past_its_age_and_nothing_live_is_touched(pool, settings, db, alice):
    settings = settings.replace(retention_batch=2)  # several batches per kind
    emails(db, ("sent-old", "sent", 40, 31), ("failed-old", "failed", 31, None), ("void-old", "void", 31, None),
           ("sent-lately", "sent", 60, 29), ("failed-lately", "failed", 29, None),
           ("pending-old", "pending", 60, None), ("sending-old", "sending", 60, None),
           *[(f"sent-old-{n}", "sent", 50, 45) for n in range(4)])
    notes(db, alice.id, *[(f"read-old-{n}", True, 91) for n in range(5)],
          ("read-lately", True, 89), ("unread-old", False, 400))
    events(db, ("older-than-400-days", 401), ("400-days", 399), ("a-year", 365), ("today", 0))
    revocations(db, alice.id, ("expired", -1), ("live", 1))
    idempotency_keys(db, ("expired", -1), ("live", 1))
    deliveries(db, alice.id, ("delivered-old", "delivered", 31, 31), ("failed-old", "failed", 31, None),
               ("delivered-lately", "delivered", 29, 29), ("pending-old", "pending", 40, None),
               ("sending-old", "sending", 40, None))
    with db.cursor() as cur:
        cur.execute("DELETE FROM analytics_events WHERE event_type NOT IN"
                    " ('older-than-400-days', '400-days', 'a-year', 'today')")

    deleted = retention.purge(pool, settings)

    assert deleted == {"emails": 7, "webhook_deliveries": 2, "read_notifications": 5, "analytics_events": 1,
                       "revocations": 1, "idempotency_keys": 1}
    assert left(db, "SELECT recipient FROM email_outbox WHERE recipient NOT LIKE '%@%'") == [
        "failed-lately", "pending-old", "sending-old", "sent-lately"]
    assert left(db, "SELECT title FROM notifications") == ["read-lately", "unread-old"]
    assert left(db, "SELECT event_type FROM analytics_events") == ["400-days", "a-year", "today"]
    assert left(db, "SELECT jti FROM revoked_tokens") == ["live"]
    assert left(db, "SELECT key FROM idempotency_keys") == ["live"]
    assert left(db, "SELECT message_id FROM webhook_deliveries") == ["delivered-lately", "pending-old", "sending-old"]
    assert left(db, "SELECT message_id FROM webhook_attempts JOIN webhook_deliveries d ON d.id = delivery_id") == [
        "delivered-lately", "pending-old", "sending-old"]
    assert retention.purge(pool, settings) == dict.fromkeys(deleted, 0)


def test_the_dashboards_longest_look_back_is_kept(client, admin, db, pool, settings):
    events(db, ("long-ago", 364))
    retention.purge(pool, settings)
    r = client.get("/api/v1/analytics/dashboard?days=365", headers=admin.auth)
    assert r.status_code == 200, r.json
    assert {row["event_type"]: row["count"] for row in r.json["breakdown"]}.get("long-ago") == 1


def test_analytics_cannot_be_kept_for_less_than_the_dashboard_shows():
    with pytest.raises(ConfigError, match="RETENTION_ANALYTICS_DAYS"):
        Settings.from_mapping({"RETENTION_ANALYTICS_DAYS": "365"})
    assert Settings.from_mapping({}).retention_analytics_days == 400


def test_a_second_worker_leaves_the_purge_to_the_one_running_it(database_url, pool, settings, db, alice):
    revocations(db, alice.id, ("expired", -1))
    other = psycopg2.connect(database_url)  # another worker, in the middle of a batch
    try:
        with other.cursor() as cur:
            lock_named(cur, "retention")
            assert retention.purge(pool, settings) is None
            assert left(db, "SELECT jti FROM revoked_tokens") == ["expired"]
        other.rollback()
    finally:
        other.close()
    assert retention.purge(pool, settings)["revocations"] == 1
