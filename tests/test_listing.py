import base64
import json
import re

import pytest

from helpers import YEAR

BOOKINGS = "/api/v1/bookings"


def cursor_of(values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def next_link(r):
    match = re.match(r'<([^>]+)>; rel="next"', r.headers.get("Link", ""))
    return match.group(1).replace("http://localhost", "") if match else None


def walk(client, user, path):
    pages, url = [], path
    while url:
        r = client.get(url, headers=user.auth)
        assert r.status_code == 200, r.json
        pages.append(r.json)
        url = next_link(r)
    return pages


@pytest.fixture
def week(client, alice):
    ids = []
    for day in range(1, 8):
        r = client.post(BOOKINGS, json={"title": f"Day {day}", "start": f"{YEAR}-07-0{day}T09:00:00Z",
                                        "end": f"{YEAR}-07-0{day}T10:00:00Z"}, headers=alice.auth)
        ids.append(r.json["booking"]["id"])
    client.delete(f"{BOOKINGS}/{ids[2]}", headers=alice.auth)
    return ids


def test_bookings_come_by_start_in_pages_linked_by_header(client, alice, week):
    pages = walk(client, alice, f"{BOOKINGS}?limit=3")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [b["id"] for p in pages for b in p] == week


def test_filters_keep_to_the_window_and_status(client, alice, week):
    r = client.get(f"{BOOKINGS}?from={YEAR}-07-02T09:30:00Z&to={YEAR}-07-05T09:00:00Z", headers=alice.auth)
    assert [b["title"] for b in r.json] == ["Day 2", "Day 3", "Day 4"]
    r = client.get(f"{BOOKINGS}?status=cancelled", headers=alice.auth)
    assert [b["title"] for b in r.json] == ["Day 3"]
    pages = walk(client, alice, f"{BOOKINGS}?status=confirmed&limit=4")
    assert [b["title"] for p in pages for b in p] == ["Day 1", "Day 2", "Day 4", "Day 5", "Day 6", "Day 7"]
    assert "status=confirmed" in client.get(f"{BOOKINGS}?status=confirmed&limit=4", headers=alice.auth).headers["Link"]


def test_local_window_bounds_use_my_zone(client, alice, week, set_profile):
    set_profile(alice, timezone="America/New_York")
    r = client.get(f"{BOOKINGS}?from={YEAR}-07-01T06:00:00&to={YEAR}-07-02T06:00:00", headers=alice.auth)
    assert [b["title"] for b in r.json] == ["Day 2"]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "status=maybe", "cursor=garbage", "cursor=WzFd",
                                   "from=soon", f"from={YEAR}-07-02T00:00:00Z&to={YEAR}-07-01T00:00:00Z",
                                   "cursor=" + cursor_of([f"{YEAR}-01-01T00:00:00+00:00", 1e400]),
                                   "cursor=" + cursor_of([f"{YEAR}-01-01T00:00:00+00:00", "7"]),
                                   "cursor=" + cursor_of([f"{YEAR}-01-01T00:00:00+23:59", 1]),
                                   "cursor=" + cursor_of(["0001-01-01T00:00:00+01:00", 1]),
                                   "cursor=" + cursor_of([f"{YEAR}-01-01T00:00:00", 1]),
                                   "cursor=" + base64.urlsafe_b64encode(b"[" * 2000).decode()])
def test_listing_parameters_are_validated(client, alice, query):
    assert client.get(f"{BOOKINGS}?{query}", headers=alice.auth).status_code == 400


@pytest.mark.parametrize("values", [[False, f"{YEAR}-01-01T00:00:00+00:00", 1.0], ["false", f"{YEAR}-01-01T00:00:00+00:00", 1],
                                    [False, f"{YEAR}-01-01T00:00:00+00:00", 1e400]])
def test_notification_cursors_are_validated(client, alice, values):
    assert client.get(f"/api/v1/notifications?cursor={cursor_of(values)}", headers=alice.auth).status_code == 400


def test_no_link_on_the_last_page(client, alice, week):
    assert "Link" not in client.get(BOOKINGS, headers=alice.auth).headers


def test_notifications_page_unread_first(client, alice, week):
    first = client.get("/api/v1/notifications", headers=alice.auth).json
    client.patch(f"/api/v1/notifications/{first[0]['id']}/read", headers=alice.auth)
    pages = walk(client, alice, "/api/v1/notifications?limit=3")
    flat = [n for p in pages for n in p]
    assert len(flat) == 8 and flat[-1]["id"] == first[0]["id"]
    assert [n["is_read"] for n in flat] == [False] * 7 + [True]
    unread = walk(client, alice, "/api/v1/notifications/unread?limit=5")
    assert [len(p) for p in unread] == [5, 2]


def test_admin_lists_page(client, admin, register):
    for i in range(4):
        register(f"User{i}")
    pages = walk(client, admin, "/api/v1/users?limit=2")
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len({u["id"] for p in pages for u in p}) == 5
    for i in range(3):
        client.post("/api/v1/analytics/event", json={"eventType": f"E{i}"})
    events = walk(client, admin, "/api/v1/analytics/events?limit=2")
    assert [e["event_type"] for p in events for e in p] == ["E2", "E1", "E0"]
