import threading
import time
from datetime import datetime, timedelta

import pytest

from scheduler import clock, create_app, dashboard, snapshots

EVENT = "/api/v1/analytics/event"


def log(client, event_type, user=None, metadata=None):
    body = {"eventType": event_type} | ({"metadata": metadata} if metadata is not None else {})
    return client.post(EVENT, json=body, headers=user.auth if user else {})


def test_anonymous_and_attributed_events(client, alice, db):
    anon = log(client, "PAGE_VIEW", metadata={"page": "/home"})
    assert anon.status_code == 201 and anon.json["event"]["event_type"] == "PAGE_VIEW"
    assert log(client, "BOOKING_VIEWED", alice).status_code == 201
    with db.cursor() as cur:
        cur.execute("SELECT event_type, user_id, metadata FROM analytics_events ORDER BY id")
        assert cur.fetchall() == [("PAGE_VIEW", None, {"page": "/home"}), ("BOOKING_VIEWED", alice.id, {})]


def test_revoked_token_logs_anonymously(client, alice, db):
    client.post("/api/v1/auth/logout", headers=alice.auth)
    assert log(client, "AFTER_LOGOUT", alice).status_code == 201
    with db.cursor() as cur:
        cur.execute("SELECT user_id FROM analytics_events")
        assert cur.fetchone() == (None,)


@pytest.mark.parametrize("body", [
    {"metadata": {}},
    {"eventType": ""},
    {"eventType": "has space"},
    {"eventType": "x" * 101},
    {"eventType": 5},
    {"eventType": "OK", "metadata": ["not", "an", "object"]},
    {"eventType": "OK", "metadata": {"blob": "x" * 5000}},
])
def test_bad_events_are_400(client, body, db):
    assert client.post(EVENT, json=body).status_code == 400
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM analytics_events")
        assert cur.fetchone()[0] == 0


def test_dashboard_shape_and_member_scope(client, alice, bob):
    log(client, "PAGE_VIEW", alice)
    log(client, "PAGE_VIEW", alice)
    log(client, "SEARCH", alice)
    log(client, "PAGE_VIEW", bob)
    log(client, "PAGE_VIEW")
    d = client.get("/api/v1/analytics/dashboard?days=7", headers=alice.auth)
    assert d.status_code == 200
    assert d.json["period"] == "Last 7 days" and d.json["scope"] == "own"
    assert d.json["overview"] == {"total_events": 3, "unique_users": 1, "event_types": 2}
    assert [(r["event_type"], r["count"], r["unique_users"]) for r in d.json["breakdown"]] == [("PAGE_VIEW", 2, 1), ("SEARCH", 1, 1)]
    assert {"first_event", "last_event"} <= set(d.json["breakdown"][0])


def test_admin_dashboard_counts_everything(client, alice, admin):
    log(client, "PAGE_VIEW", alice)
    log(client, "PAGE_VIEW")
    d = client.get("/api/v1/analytics/dashboard", headers=admin.auth).json
    assert d["scope"] == "all" and d["period"] == "Last 30 days"
    assert d["overview"] == {"total_events": 2, "unique_users": 1, "event_types": 1}


def test_empty_dashboard(client, alice):
    d = client.get("/api/v1/analytics/dashboard", headers=alice.auth).json
    assert d["overview"] == {"total_events": 0, "unique_users": 0, "event_types": 0} and d["breakdown"] == []


@pytest.mark.parametrize("days", ["-3", "0", "366", "abc", "1.5"])
def test_dashboard_days_are_validated(client, alice, days):
    assert client.get(f"/api/v1/analytics/dashboard?days={days}", headers=alice.auth).status_code == 400


def test_dashboard_needs_a_token(client):
    assert client.get("/api/v1/analytics/dashboard").status_code == 401


def test_recent_events_are_for_admins(client, alice, admin):
    log(client, "PAGE_VIEW", alice)
    log(client, "SEARCH")
    assert client.get("/api/v1/analytics/events", headers=alice.auth).status_code == 403
    rows = client.get("/api/v1/analytics/events?type=PAGE_VIEW", headers=admin.auth).json
    assert [(r["event_type"], r["user_email"]) for r in rows] == [("PAGE_VIEW", alice.email)]
    assert len(client.get("/api/v1/analytics/events?limit=1", headers=admin.auth).json) == 1
    assert client.get("/api/v1/analytics/events?limit=500", headers=admin.auth).status_code == 400


def test_the_all_events_view_is_a_snapshot_at_most_max_age_old(client, alice, admin):
    log(client, "PAGE_VIEW")
    first = client.get("/api/v1/analytics/dashboard?days=7", headers=admin.auth).json
    log(client, "PAGE_VIEW")
    second = client.get("/api/v1/analytics/dashboard?days=7", headers=admin.auth).json
    assert first == second and first["overview"]["total_events"] == 1
    assert client.get("/api/v1/analytics/dashboard?days=8", headers=admin.auth).json["overview"]["total_events"] == 2


def test_a_stale_snapshot_is_recomputed(settings, redis_conn, client, admin):
    from scheduler import create_app
    quick = create_app(settings.replace(dashboard_max_age=1)).test_client()
    log(client, "PAGE_VIEW")
    assert quick.get("/api/v1/analytics/dashboard", headers=admin.auth).json["overview"]["total_events"] == 1
    log(client, "PAGE_VIEW")
    time.sleep(1.1)
    assert quick.get("/api/v1/analytics/dashboard", headers=admin.auth).json["overview"]["total_events"] == 2


def test_members_views_are_exact_and_never_the_shared_snapshot(client, alice, admin):
    client.get("/api/v1/analytics/dashboard", headers=admin.auth)
    log(client, "PAGE_VIEW", alice)
    mine = client.get("/api/v1/analytics/dashboard", headers=alice.auth).json
    assert mine["scope"] == "own" and mine["overview"]["total_events"] == 1


def test_the_dashboard_works_with_redis_down(settings, redis_conn, client, admin):
    from scheduler import create_app
    down = create_app(settings.replace(redis_url="redis://127.0.0.1:1/0")).test_client()
    log(client, "PAGE_VIEW")
    r = down.get("/api/v1/analytics/dashboard", headers=admin.auth)
    assert r.status_code == 200 and r.json["overview"]["total_events"] == 1


def test_the_async_commit_of_an_event_does_not_outlive_it(app, client):
    log(client, "PAGE_VIEW")
    with app.app_context():
        from scheduler.context import single_statement
        for _ in range(app.extensions["runtime"].db.size):
            with single_statement() as cur:
                cur.execute("SELECT source FROM pg_settings WHERE name = 'synchronous_commit'")
                assert cur.fetchone()["source"] != "session"


@pytest.fixture
def counted_summaries(monkeypatch):
    """Counts computations of the all-events summary (each made a little slow, so that racing
    requests overlap), calling the real one."""
    calls = []
    real = dashboard.summary

    def summary(db, days, user_id=None):
        calls.append(days)
        time.sleep(0.3)
        return real(db, days, user_id)
    monkeypatch.setattr(dashboard, "summary", summary)
    return calls


def age_of(response):
    return (clock.now() - datetime.fromisoformat(response.json["as_of"])).total_seconds()


def test_no_admin_gets_a_stale_snapshot_and_one_process_recomputes(settings, redis_conn, client, admin, travel,
                                                                   counted_summaries):
    """As in the report: idle past the max age, new events, 8 admins at once. Each gets a
    snapshot younger than the max age; one process (of 8 apps) computed it."""
    max_age = settings.dashboard_max_age
    log(client, "PAGE_VIEW")
    client.get("/api/v1/analytics/dashboard", headers=admin.auth)
    for _ in range(3):
        log(client, "PAGE_VIEW")
    travel(timedelta(seconds=4 * max_age))
    counted_summaries.clear()
    apps = [create_app(settings) for _ in range(8)]
    barrier = threading.Barrier(len(apps), timeout=20)
    responses = []

    def ask(app):
        barrier.wait()
        responses.append(app.test_client().get("/api/v1/analytics/dashboard", headers=admin.auth))
    threads = [threading.Thread(target=ask, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    for app in apps:
        app.extensions["runtime"].db.close()
    assert [r.status_code for r in responses] == [200] * len(apps)
    assert all(age_of(r) < max_age for r in responses), [age_of(r) for r in responses]
    assert all(r.json["overview"]["total_events"] == 4 for r in responses)
    assert len(counted_summaries) == 1


def test_the_worker_keeps_a_wanted_snapshot_fresh_while_admins_idle(client, admin, settings, worker, travel,
                                                                    counted_summaries):
    rt = worker()
    max_age, lead = settings.dashboard_max_age, 10
    log(client, "PAGE_VIEW")
    first = client.get("/api/v1/analytics/dashboard", headers=admin.auth)
    log(client, "PAGE_VIEW")
    for _ in range(8):  # four max ages of idling, the worker looking every half lead
        travel(timedelta(seconds=max_age / 2))
        dashboard.refresh(rt.redis, rt.db, max_age, lead)
    computed_by_worker = len(counted_summaries)
    later = client.get("/api/v1/analytics/dashboard", headers=admin.auth)
    assert len(counted_summaries) == computed_by_worker, "the request had to compute"
    assert age_of(later) < max_age and later.json["as_of"] > first.json["as_of"]
    assert later.json["overview"]["total_events"] == 2


def test_refreshers_racing_compute_once(client, admin, settings, worker, travel, counted_summaries):
    rt = worker()
    client.get("/api/v1/analytics/dashboard", headers=admin.auth)
    travel(timedelta(seconds=settings.dashboard_max_age))
    counted_summaries.clear()
    barrier = threading.Barrier(4, timeout=20)

    def refresh():
        barrier.wait()
        dashboard.refresh(rt.redis, rt.db, settings.dashboard_max_age, 10)
    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert len(counted_summaries) == 1


def test_an_older_computation_never_replaces_a_newer_snapshot(redis_conn):
    snapshots.recompute(redis_conn, "probe", 60, lambda: "newer")
    stored = snapshots.read(redis_conn, "probe")
    older_as_of = stored["as_of"] - 5
    assert redis_conn.eval(snapshots.STORE_IF_NEWER, 1, "probe", repr(older_as_of), b'"older"', 60) == 0
    assert snapshots.read(redis_conn, "probe") == stored
