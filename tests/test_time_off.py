"""Time off: spans I am away; the bookings already in one are listed, and kept."""

from datetime import datetime, timedelta, timezone

import pytest

from helpers import YEAR, answer_behind, at, slot

TIME_OFF = "/api/v1/users/me/time-off"
BOOKINGS = "/api/v1/bookings"


@pytest.fixture
def carol(register):
    return register("Carol")


def span(start, end, **fields):
    return {"start": start, "end": end} | fields


def added(client, user, start, end, **fields):
    r = client.post(TIME_OFF, json=span(start, end, **fields), headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json


def booked(client, user, start, end, **fields):
    r = client.post(BOOKINGS, json=slot(start, end) | fields, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json["booking"]


def listed(client, user, **query):
    r = client.get(TIME_OFF, query_string=query, headers=user.auth)
    assert r.status_code == 200, r.json
    return [t["id"] for t in r.json["time_off"]]


def utc(text):
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_time_off_is_added_and_listed(client, alice):
    r = added(client, alice, at("00:00"), at("00:00", day=7), reason="Holiday in Crete")
    assert r["message"] and r["conflicts"] == []
    time_off = r["time_off"]
    assert (utc(time_off["start"]), utc(time_off["end"]), time_off["reason"]) == (
        utc(at("00:00")), utc(at("00:00", day=7)), "Holiday in Crete")
    assert client.get(TIME_OFF, headers=alice.auth).json == {"time_off": [time_off]}
    assert added(client, alice, at("09:00", day=10), at("10:00", day=10))["time_off"]["reason"] is None


def test_times_without_an_offset_are_read_in_my_zone(client, alice, set_profile):
    set_profile(alice, timezone="Europe/Berlin")
    time_off = added(client, alice, f"{YEAR}-07-01T09:00", f"{YEAR}-07-01T12:00")["time_off"]
    assert utc(time_off["start"]) == datetime(YEAR, 7, 1, 7, tzinfo=timezone.utc)
    time_off = added(client, alice, f"{YEAR}-07-02T09:00", f"{YEAR}-07-02T12:00", timezone="Asia/Tokyo")["time_off"]
    assert utc(time_off["start"]) == datetime(YEAR, 7, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("body, field", [
    (span(at("10:00"), at("10:00")), "end"),
    (span(at("10:00"), at("09:00")), "end"),
    (span(at("00:00"), at("00:01", day=366)), "end"),
    (span(at("10:00"), at("11:00"), reason="two\nlines"), "reason"),
    (span(at("10:00"), at("11:00"), reason="x" * 201), "reason"),
    (span(at("10:00"), at("11:00"), reason="\u202eevil"), "reason"),
    (span("soon", at("11:00")), "start"),
    (span(at("10:00"), None), "end"),
    ({"end": at("11:00")}, "start"),
    (span(f"{YEAR}-03-30T02:30", f"{YEAR}-03-30T05:00", timezone="Europe/Berlin"), "start"),  # skipped by DST
    (span(at("10:00"), at("11:00"), timezone="Mars/Olympus"), "timezone"),
])
def test_invalid_time_off_is_400_and_nothing_is_added(client, alice, body, field):
    r = client.post(TIME_OFF, json=body, headers=alice.auth)
    assert r.status_code == 400 and field in r.json["fields"], r.json
    assert client.get(TIME_OFF, query_string={"from": at("00:00", day=-400)}, headers=alice.auth).json["time_off"] == []


def test_time_off_may_last_366_days(client, alice):
    added(client, alice, at("00:00"), at("00:00", day=366))


def test_bookings_in_it_are_listed_and_kept(client, alice, bob, carol, org_of):
    """Mine and those I was invited to, confirmed and not declined, whose time overlaps it."""
    org_of(alice, bob, carol)
    mine = booked(client, alice, "09:00", "10:00", title="Mine")
    invited = booked(client, bob, "11:00", "12:00", title="Invited", attendees=[alice.email])
    declined = booked(client, carol, "13:00", "14:00", title="Declined", attendees=[alice.email])
    client.patch(f"{BOOKINGS}/{declined['id']}/attendance", json={"status": "declined"}, headers=alice.auth)
    cancelled = booked(client, alice, "15:00", "16:00", title="Cancelled")
    client.delete(f"{BOOKINGS}/{cancelled['id']}", headers=alice.auth)
    booked(client, bob, "10:00", "11:00", title="Not mine")
    booked(client, alice, "08:00", "08:30", title="Touching")
    straddling = booked(client, alice, "16:30", "18:00", title="Straddling")

    r = added(client, alice, at("08:30"), at("17:00"))
    assert [(c["id"], c["title"], utc(c["start"]), utc(c["end"])) for c in r["conflicts"]] == [
        (mine["id"], "Mine", utc(at("09:00")), utc(at("10:00"))),
        (invited["id"], "Invited", utc(at("11:00")), utc(at("12:00"))),
        (straddling["id"], "Straddling", utc(at("16:30")), utc(at("18:00")))]
    for booking in (mine, invited, straddling):
        assert client.get(f"{BOOKINGS}/{booking['id']}", headers=alice.auth).json["status"] == "confirmed"


def test_a_booking_committing_meanwhile_is_listed(app, alice, database_url):
    """Time off waits for my lock, held here by a booking being written, and then lists it: a
    booking checks time off under the same lock, so none slips in unlisted."""
    def booking(cur):  # of mine, mid-transaction (the booking write's own database function)
        cur.execute("SELECT insert_booking(%s, ARRAY[%s]::bigint[], 'Late', %s, %s, NULL, NULL, 0, 0, "
                    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'confirmed', NULL, NULL)", (alice.id, alice.id, at("10:00"), at("11:00")))

    r = answer_behind(database_url, booking, lambda: app.test_client().post(
        TIME_OFF, json=span(at("00:00"), at("00:00", day=1)), headers=alice.auth))
    assert r.status_code == 201
    assert [c["title"] for c in r.json["conflicts"]] == ["Late"]


def test_the_list_covers_from_now_on_unless_asked(client, alice):
    now = datetime.now(timezone.utc)
    past = added(client, alice, (now - timedelta(days=3)).isoformat(), (now - timedelta(days=2)).isoformat())
    current = added(client, alice, (now - timedelta(days=1)).isoformat(), (now + timedelta(days=1)).isoformat())
    later = added(client, alice, at("00:00", day=5), at("00:00", day=6))
    sooner = added(client, alice, at("00:00", day=2), at("00:00", day=3))
    ids = {name: r["time_off"]["id"] for name, r in
           (("past", past), ("current", current), ("later", later), ("sooner", sooner))}
    assert listed(client, alice) == [ids["current"], ids["sooner"], ids["later"]]
    assert listed(client, alice, **{"from": (now - timedelta(days=10)).isoformat()}) == [
        ids["past"], ids["current"], ids["sooner"], ids["later"]]
    assert listed(client, alice, **{"from": at("12:00", day=2), "to": at("00:00", day=5)}) == [ids["sooner"]]
    assert listed(client, alice, to=at("00:00", day=2)) == [ids["current"]]


def test_the_lists_window_is_checked(client, alice):
    r = client.get(TIME_OFF, query_string={"from": at("10:00"), "to": at("09:00")}, headers=alice.auth)
    assert r.status_code == 400 and "to" in r.json["fields"]
    r = client.get(TIME_OFF, query_string={"from": "yesterday"}, headers=alice.auth)
    assert r.status_code == 400 and "from" in r.json["fields"]


def test_time_off_is_private_and_deleted_by_its_owner(client, alice, bob):
    time_off = added(client, alice, at("00:00"), at("00:00", day=1))["time_off"]
    path = f"{TIME_OFF}/{time_off['id']}"
    assert listed(client, bob) == []
    assert client.delete(path, headers=bob.auth).status_code == 404
    assert listed(client, alice) == [time_off["id"]]
    assert client.delete(path, headers=alice.auth).status_code == 204
    assert listed(client, alice) == []
    assert client.delete(path, headers=alice.auth).status_code == 404
    assert client.delete(f"{TIME_OFF}/999999", headers=alice.auth).status_code == 404
