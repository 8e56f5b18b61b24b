"""/api/v1/calendars with iCalendar subscriptions served on this machine: connecting, refusals,
refreshes (conditional GET, a changed file, a broken one), limits, and who sees what."""

from datetime import datetime, timedelta, timezone

import pytest

from scheduler import create_app
from scheduler.sealing import CALENDAR_PASSWORD

CALENDARS = "/api/v1/calendars"
SOON = datetime.now(timezone.utc).replace(microsecond=0, second=0, minute=0) + timedelta(days=3)


def stamp(moment):
    return moment.strftime("%Y%m%dT%H%M%SZ")


def feed(*hours, name=None, extra=()):
    """A calendar with a one-hour event starting at each of `hours` (hours after SOON)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tests//EN", *([f"X-WR-CALNAME:{name}"] if name else [])]
    for n, hour in enumerate(hours):
        start = SOON + timedelta(hours=hour)
        lines += ["BEGIN:VEVENT", f"UID:event-{n}", f"DTSTAMP:{stamp(SOON)}", f"DTSTART:{stamp(start)}",
                  f"DTEND:{stamp(start + timedelta(hours=1))}", *extra, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""]).encode()


def busy(db, calendar_id):
    with db.cursor() as cur:
        cur.execute("SELECT start_time, end_time FROM calendar_busy WHERE calendar_id = %s ORDER BY start_time",
                    (calendar_id,))
        return [(start - SOON, end - start) for start, end in cur.fetchall()]


def hours(*starts):
    return [(timedelta(hours=h), timedelta(hours=1)) for h in starts]


def connect(client, user, url, **extra):
    r = client.post(CALENDARS, json={"kind": "ics", "url": url, **extra}, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json["calendar"]


def test_connecting_a_feed_reads_it_before_answering(client, alice, feeds, db):
    url = feeds.serve("/work.ics", feed(1, 5, name="Work"))
    r = client.post(CALENDARS, json={"kind": "ics", "url": url}, headers=alice.auth)
    assert r.status_code == 201
    calendar = r.json["calendar"]
    assert {k: calendar[k] for k in ("kind", "name", "url", "status", "busy_count", "error")} == {
        "kind": "ics", "name": "Work", "url": url, "status": "ok", "busy_count": 2, "error": None}
    assert calendar["last_synced_at"] is not None and "calendars" not in calendar
    assert busy(db, calendar["id"]) == hours(1, 5)
    assert client.get(f"{CALENDARS}/{calendar['id']}", headers=alice.auth).json == calendar
    assert client.get(CALENDARS, headers=alice.auth).json == [calendar]


def test_busy_times_show_in_my_busy_beside_my_bookings(client, alice, feeds):
    calendar = connect(client, alice, feeds.serve("/work.ics", feed(1, 2)))
    booking = {"title": "Mine", "start": (SOON + timedelta(hours=4)).isoformat(),
               "end": (SOON + timedelta(hours=5)).isoformat()}
    assert client.post("/api/v1/bookings", json=booking, headers=alice.auth).status_code == 201
    window = {"from": SOON.isoformat(), "to": (SOON + timedelta(hours=8)).isoformat()}
    shown = client.get("/api/v1/users/me/busy", query_string=window, headers=alice.auth).json["busy"]
    assert shown == [
        {"start": (SOON + timedelta(hours=1)).isoformat(), "end": (SOON + timedelta(hours=3)).isoformat(),
         "source": "calendar", "calendar_id": calendar["id"]},
        {"start": booking["start"], "end": booking["end"]}]


def test_webcal_is_https_and_credentials_leave_the_url_for_the_sealed_column(client, alice, feeds, db, settings):
    url = feeds.serve("/private.ics", feed(1), credentials=("ada", "p@ss word"))
    calendar = connect(client, alice, url.replace("http://", "http://ada:p%40ss%20word@"), name="Private")
    assert calendar["url"] == url and calendar["busy_count"] == 1
    with db.cursor() as cur:
        cur.execute("SELECT username, password_sealed FROM calendars WHERE id = %s", (calendar["id"],))
        username, sealed = cur.fetchone()
    assert username == "ada" and b"p@ss" not in bytes(sealed)
    assert settings.secret_keys.open_text(bytes(sealed), CALENDAR_PASSWORD) == "p@ss word"
    assert client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).json["calendar"]["status"] == "ok"
    r = client.post(CALENDARS, json={"kind": "ics", "url": "webcal://127.0.0.1:9/x.ics"}, headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"]["url"] == "unreachable: could not connect to 127.0.0.1"


@pytest.mark.parametrize("serve, reason", [
    (None, "unreachable: could not connect to 127.0.0.1"),
    (dict(body=b"<html>Sign in</html>", content_type="text/html"), "not iCalendar: the answer is not a VCALENDAR"),
    (dict(status=404), "not found (HTTP 404)"),
    (dict(body=feed(1), credentials=("ada", "right")), "authentication failed (HTTP 401)"),
    (dict(status=302, location="gopher://127.0.0.1/x"), "the server redirected to an address that is not http or https"),
    (dict(status=302, location="http://[::1"), "the server redirected to an invalid address"),
    (dict(body=b"BEGIN:VCALENDAR\r\n" + b"X" * (10 * 1024 * 1024)), "too large: more than 10 MB"),
])
def test_a_feed_that_cannot_be_read_is_a_400_saying_why(client, alice, feeds, serve, reason, db):
    url = feeds.serve("/cal.ics", **serve) if serve else "http://127.0.0.1:9/cal.ics"
    r = client.post(CALENDARS, json={"kind": "ics", "url": url}, headers=alice.auth)
    assert r.status_code == 400
    assert r.json["fields"] == {"url": reason}
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM calendars")
        assert cur.fetchone() == (0,)


def test_redirects_are_followed(client, alice, feeds):
    target = feeds.serve("/moved.ics", feed(1))
    calendar = connect(client, alice, feeds.serve("/old.ics", status=301, location="/moved.ics"))
    assert calendar["busy_count"] == 1 and calendar["url"] == target.replace("moved", "old")


def test_internal_addresses_are_refused_unless_allowed(settings, redis_conn, feeds):
    app = create_app(settings.replace(egress_allow_private=False))
    client = app.test_client()
    try:
        user = client.post("/api/v1/auth/register", json={"name": "Ada", "email": "ada@example.com",
                                                           "password": "secure123"}).json["token"]
        r = client.post(CALENDARS, json={"kind": "ics", "url": feeds.serve("/cal.ics", feed(1))},
                        headers={"Authorization": f"Bearer {user}"})
        assert r.status_code == 400
        assert r.json["fields"]["url"] == "refused address: 127.0.0.1 resolves to a private or reserved address"
        # Names are checked by what they resolve to.
        r = client.post(CALENDARS, json={"kind": "ics", "url": "http://localhost:1/cal.ics"},
                        headers={"Authorization": f"Bearer {user}"})
        assert r.json["fields"]["url"] == "refused address: localhost resolves to a private or reserved address"
    finally:
        app.extensions["runtime"].db.close()


def test_an_unchanged_feed_is_not_read_again_and_a_changed_one_is(client, alice, feeds, db):
    url = feeds.serve("/cal.ics", feed(1), etag='"v1"', last_modified="Mon, 01 Jan 2029 00:00:00 GMT")
    calendar = connect(client, alice, url)
    refreshed = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).json
    assert refreshed["message"] == "Calendar refreshed" and refreshed["calendar"]["busy_count"] == 1
    last = feeds.seen("/cal.ics")[-1].headers
    assert (last["If-None-Match"], last["If-Modified-Since"]) == ('"v1"', "Mon, 01 Jan 2029 00:00:00 GMT")
    assert busy(db, calendar["id"]) == hours(1)
    feeds.serve("/cal.ics", feed(2, 6, 8), etag='"v2"')
    refreshed = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).json["calendar"]
    assert refreshed["busy_count"] == 3 and refreshed["last_synced_at"] > calendar["last_synced_at"]
    assert busy(db, calendar["id"]) == hours(2, 6, 8)


def test_after_a_day_the_whole_feed_is_read_again_so_the_horizon_moves_on(client, alice, feeds, travel):
    calendar = connect(client, alice, feeds.serve("/cal.ics", feed(1), etag='"v1"'))
    travel(timedelta(days=1, minutes=1))
    client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth)
    assert "If-None-Match" not in feeds.seen("/cal.ics")[-1].headers


def test_a_broken_feed_keeps_the_last_good_busy_times(client, alice, feeds, db):
    calendar = connect(client, alice, feeds.serve("/cal.ics", feed(1, 3)))
    for serve, error in [(dict(status=500), "the server answered HTTP 500"),
                         (dict(body=b"BEGIN:VCALENDAR\r\nnot really"), "not iCalendar: the file could not be parsed")]:
        feeds.serve("/cal.ics", **serve)
        r = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth)
        assert r.status_code == 200
        assert r.json["message"] == f"Refresh failed: {error}"
        shown = r.json["calendar"]
        assert (shown["status"], shown["error"], shown["busy_count"]) == ("error", error, 2)
        assert shown["last_synced_at"] == calendar["last_synced_at"]
        assert busy(db, calendar["id"]) == hours(1, 3)
    feeds.serve("/cal.ics", feed(3))
    shown = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).json["calendar"]
    assert (shown["status"], shown["error"], shown["busy_count"]) == ("ok", None, 1)
    with db.cursor() as cur:
        cur.execute("SELECT failures FROM calendars WHERE id = %s", (calendar["id"],))
        assert cur.fetchone() == (0,)


@pytest.mark.parametrize("body, error", [
    (b"BEGIN:VCALENDAR\r\n" + b"X-FILLER:" + b"x" * (10 * 1024 * 1024) + b"\r\nEND:VCALENDAR\r\n",
     "too large: more than 10 MB"),
    (feed(1, extra=["RRULE:FREQ=MINUTELY;INTERVAL=5"]), "too many events: more than 50,000 in the coming year"),
])
def test_a_feed_over_a_limit_is_an_error_status(client, alice, feeds, db, body, error):
    calendar = connect(client, alice, feeds.serve("/cal.ics", feed(1)))
    feeds.serve("/cal.ics", body)
    shown = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).json["calendar"]
    assert (shown["status"], shown["error"], shown["busy_count"]) == ("error", error, 1)
    assert busy(db, calendar["id"]) == hours(1)


def test_rename_and_delete_and_others_calendars_are_404(client, alice, bob, feeds, db):
    calendar = connect(client, alice, feeds.serve("/cal.ics", feed(1)))
    path = f"{CALENDARS}/{calendar['id']}"
    for method in ("get", "patch", "delete"):
        assert getattr(client, method)(path, json={"name": "Mine"} if method == "patch" else None,
                                       headers=bob.auth).status_code == 404
    assert client.post(f"{path}/refresh", headers=bob.auth).status_code == 404
    r = client.patch(path, json={"name": "Renamed"}, headers=alice.auth)
    assert r.status_code == 200 and r.json["calendar"]["name"] == "Renamed"
    r = client.patch(path, json={"read": ["Work"]}, headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"] == {"read": "only for caldav"}
    assert client.delete(path, headers=alice.auth).json == {"message": "Calendar deleted"}
    assert client.get(path, headers=alice.auth).status_code == 404
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM calendar_busy")
        assert cur.fetchone() == (0,)


def test_a_person_has_at_most_20_calendars(client, alice, feeds, db):
    url = feeds.serve("/cal.ics", feed(1))
    with db.cursor() as cur:
        cur.execute("INSERT INTO calendars (user_id, kind, name, url) SELECT %s, 'ics', 'Old', %s "
                    "FROM generate_series(1, 20)", (alice.id, url))
    r = client.post(CALENDARS, json={"kind": "ics", "url": url}, headers=alice.auth)
    assert r.status_code == 409 and "20" in r.json["error"]
    assert feeds.seen("/cal.ics") == []


def test_connecting_and_refreshing_are_rate_limited_per_person(app, client, alice, bob, feeds):
    app.extensions["runtime"].settings = app.extensions["runtime"].settings.replace(calendar_rate_limit=2)
    calendar = connect(client, alice, feeds.serve("/cal.ics", feed(1)))
    assert client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).status_code == 200
    r = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert client.post(CALENDARS, json={"kind": "ics", "url": feeds.base + "/cal.ics"}, headers=bob.auth).status_code == 201


@pytest.mark.parametrize("body, field", [
    ({"kind": "ics", "url": "ftp://example.com/cal.ics"}, "url"),
    ({"kind": "ics", "url": "http://127.0.0.1:9/cal.ics", "read": ["Work"]}, "read"),
    ({"kind": "caldav", "url": "http://127.0.0.1:9/"}, "username"),
    ({"kind": "exchange", "url": "http://127.0.0.1:9/"}, "kind"),
])
def test_invalid_input_is_a_400_naming_the_field(client, alice, body, field):
    r = client.post(CALENDARS, json=body, headers=alice.auth)
    assert r.status_code == 400 and field in r.json["fields"]
