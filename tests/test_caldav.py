"""CalDAV accounts against Radicale, a real CalDAV server on this machine: discovery, choosing
the calendars read and written, a refused login, and refreshes by sync token."""

from datetime import datetime, timedelta, timezone

import pytest

CALENDARS = "/api/v1/calendars"
SOON = datetime.now(timezone.utc).replace(microsecond=0, second=0, minute=0) + timedelta(days=3)


def event(uid, hour, length=1):
    start = SOON + timedelta(hours=hour)
    stamp = "%Y%m%dT%H%M%SZ"
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tests//EN", "BEGIN:VEVENT", f"UID:{uid}",
                        f"DTSTAMP:{SOON.strftime(stamp)}", f"DTSTART:{start.strftime(stamp)}",
                        f"DTEND:{(start + timedelta(hours=length)).strftime(stamp)}", "SUMMARY:Busy", "END:VEVENT",
                        "END:VCALENDAR", ""]).encode()


@pytest.fixture
def account(caldav_accounts):
    """Ada's account: Work (two events), Personal (one), and a task list."""
    work = caldav_accounts.make_calendar("ada", "work", "Work")
    personal = caldav_accounts.make_calendar("ada", "personal", "Personal")
    caldav_accounts.make_calendar("ada", "tasks", "Tasks", components=("VTODO",))
    caldav_accounts.put("ada", "work", "standup", event("standup", 1))
    caldav_accounts.put("ada", "work", "review", event("review", 5))
    caldav_accounts.put("ada", "personal", "dentist", event("dentist", 9))
    return {"work": work, "personal": personal}


def busy(db, calendar_id):
    with db.cursor() as cur:
        cur.execute("SELECT start_time FROM calendar_busy WHERE calendar_id = %s ORDER BY start_time", (calendar_id,))
        return [int((start - SOON) / timedelta(hours=1)) for (start,) in cur.fetchall()]


def connect(client, user, url, **extra):
    return client.post(CALENDARS, json={"kind": "caldav", "url": url, "username": "ada", "password": "ada-secret",
                                        **extra}, headers=user.auth)


def test_discovery_lists_the_calendars_and_reads_the_chosen_one(client, alice, caldav_accounts, account, db):
    r = connect(client, alice, caldav_accounts.url + "/", read=["Work"], write_to="personal")
    assert r.status_code == 201, r.json
    calendar = r.json["calendar"]
    assert (calendar["kind"], calendar["url"], calendar["status"], calendar["busy_count"]) == (
        "caldav", caldav_accounts.url + "/", "ok", 2)
    assert calendar["name"] == "127.0.0.1"
    assert sorted(calendar["calendars"], key=lambda c: c["name"]) == [
        {"href": account["personal"], "name": "Personal", "read": False, "write": True},
        {"href": account["work"], "name": "Work", "read": True, "write": False}]
    assert busy(db, calendar["id"]) == [1, 5]
    with db.cursor() as cur:
        cur.execute("SELECT write_to, read_from, username, password_sealed IS NOT NULL FROM calendars")
        assert cur.fetchone() == (account["personal"], [account["work"]], "ada", True)


def test_every_calendar_with_events_is_read_by_default(client, alice, caldav_accounts, account, db):
    r = connect(client, alice, caldav_accounts.url)
    assert r.status_code == 201
    assert busy(db, r.json["calendar"]["id"]) == [1, 5, 9]
    assert all(c["read"] and not c["write"] for c in r.json["calendar"]["calendars"])


def test_an_address_that_is_not_the_caldav_root_is_found_through_well_known(client, alice, caldav_accounts, account):
    r = connect(client, alice, caldav_accounts.url + "/somewhere/else", read=[account["work"]])
    assert r.status_code == 201 and r.json["calendar"]["busy_count"] == 2


def test_a_refused_login_is_a_400(client, alice, caldav_accounts, account):
    r = client.post(CALENDARS, json={"kind": "caldav", "url": caldav_accounts.url, "username": "ada", "password": "wrong"},
                    headers=alice.auth)
    assert r.status_code == 400
    assert r.json["fields"] == {"url": "authentication failed (HTTP 401)"}


def test_a_calendar_the_account_lacks_is_a_400_naming_the_field(client, alice, caldav_accounts, account):
    r = connect(client, alice, caldav_accounts.url, read=["Work", "Holidays"])
    assert r.status_code == 400
    assert r.json["fields"]["read"].startswith("no calendar 'Holidays' in this account")
    r = connect(client, alice, caldav_accounts.url, write_to="Tasks")
    assert r.status_code == 400 and "write_to" in r.json["fields"]
    calendar = connect(client, alice, caldav_accounts.url).json["calendar"]
    r = client.patch(f"{CALENDARS}/{calendar['id']}", json={"read": ["http://["]}, headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"]["read"].startswith("no calendar 'http://['")


def test_a_plain_http_server_is_not_caldav(client, alice, feeds):
    r = client.post(CALENDARS, json={"kind": "caldav", "url": feeds.base + "/", "username": "a", "password": "b"},
                    headers=alice.auth)
    assert r.status_code == 400
    assert r.json["fields"]["url"].startswith("not a CalDAV server")


def test_a_refresh_by_sync_token_picks_up_added_and_deleted_events(client, alice, caldav_accounts, account, db):
    calendar = connect(client, alice, caldav_accounts.url).json["calendar"]
    with db.cursor() as cur:
        cur.execute("SELECT validators FROM calendars WHERE id = %s", (calendar["id"],))
        before = cur.fetchone()[0]
    caldav_accounts.put("ada", "work", "lunch", event("lunch", 3))
    caldav_accounts.delete("ada", "work", "review")
    caldav_accounts.put("ada", "personal", "dentist", event("dentist", 11))  # moved
    r = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth)
    assert r.json["calendar"]["status"] == "ok" and r.json["calendar"]["busy_count"] == 3
    assert busy(db, calendar["id"]) == [1, 3, 11]
    with db.cursor() as cur:
        cur.execute("SELECT validators FROM calendars WHERE id = %s", (calendar["id"],))
        after = cur.fetchone()[0]
    # Only the changes were read: the whole read's time stands, the tokens moved on.
    assert after["expanded_at"] == before["expanded_at"]
    assert set(after["tokens"]) == set(before["tokens"]) and after["tokens"] != before["tokens"]
    unchanged = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).json["calendar"]
    assert unchanged["busy_count"] == 3 and busy(db, calendar["id"]) == [1, 3, 11]


def test_choosing_other_calendars_reads_the_account_afresh(client, alice, caldav_accounts, account, db):
    calendar = connect(client, alice, caldav_accounts.url, read=["Work"]).json["calendar"]
    r = client.patch(f"{CALENDARS}/{calendar['id']}", json={"read": ["Personal"], "write_to": account["work"]},
                     headers=alice.auth)
    assert r.status_code == 200
    assert {c["name"]: (c["read"], c["write"]) for c in r.json["calendar"]["calendars"]} == {
        "Work": (False, True), "Personal": (True, False)}
    refreshed = client.post(f"{CALENDARS}/{calendar['id']}/refresh", headers=alice.auth).json["calendar"]
    assert refreshed["busy_count"] == 1 and busy(db, calendar["id"]) == [9]
    r = client.patch(f"{CALENDARS}/{calendar['id']}", json={"write_to": None, "read": None}, headers=alice.auth)
    assert all(c["read"] and not c["write"] for c in r.json["calendar"]["calendars"])
