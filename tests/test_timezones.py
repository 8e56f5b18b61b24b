"""Local times, DST transitions and working hours, in Europe/London and America/New_York."""

import pytest

from helpers import YEAR

BOOKINGS = "/api/v1/bookings"


def book(client, user, start, end, **extra):
    return client.post(BOOKINGS, json={"title": "T", "start": start, "end": end, **extra}, headers=user.auth)


def test_new_users_are_utc_with_default_hours_and_reminders(client, alice):
    me = client.get("/api/v1/users/me", headers=alice.auth).json
    assert me["timezone"] == "UTC" and me["reminders"] == [1440, 60]
    assert me["working_hours"]["mon"] == [{"start": "09:00", "end": "17:00"}] and me["working_hours"]["sat"] == []


def test_times_without_offset_are_in_the_users_zone(client, alice, set_profile):
    set_profile(alice, timezone="Europe/London")
    r = book(client, alice, f"{YEAR}-07-01T09:00:00", f"{YEAR}-07-01T10:00:00")
    assert r.json["booking"]["start_time"] == f"{YEAR}-07-01T08:00:00+00:00"


def test_the_requests_timezone_wins_and_offsets_are_taken_as_given(client, alice, set_profile):
    set_profile(alice, timezone="Europe/London")
    r = book(client, alice, f"{YEAR}-07-01T09:00:00", f"{YEAR}-07-01T10:00:00", timezone="America/New_York")
    assert r.json["booking"]["start_time"] == f"{YEAR}-07-01T13:00:00+00:00"
    r = book(client, alice, f"{YEAR}-07-02T09:00:00+02:00", f"{YEAR}-07-02T10:00:00+02:00", timezone="America/New_York")
    assert r.json["booking"]["start_time"] == f"{YEAR}-07-02T07:00:00+00:00"


@pytest.mark.parametrize("zone, start", [
    ("Europe/London", f"{YEAR}-03-30T01:30:00"),      # clocks go 01:00 -> 02:00
    ("America/New_York", f"{YEAR}-03-09T02:30:00"),   # clocks go 02:00 -> 03:00
])
def test_a_local_time_skipped_by_spring_forward_is_400(client, alice, zone, start):
    r = book(client, alice, start, start.replace("T01:30", "T04:00").replace("T02:30", "T04:00"), timezone=zone)
    assert r.status_code == 400 and "does not exist" in r.json["fields"]["start"]


@pytest.mark.parametrize("zone, local, utc", [
    ("Europe/London", f"{YEAR}-10-26T01:30:00", f"{YEAR}-10-26T00:30:00+00:00"),     # BST, the first 01:30
    ("America/New_York", f"{YEAR}-11-02T01:30:00", f"{YEAR}-11-02T05:30:00+00:00"),  # EDT, the first 01:30
])
def test_an_ambiguous_fall_back_time_takes_the_first(client, alice, zone, local, utc):
    r = book(client, alice, local, local.replace("T01:30", "T03:00"), timezone=zone)
    assert r.status_code == 201 and r.json["booking"]["start_time"] == utc


@pytest.mark.parametrize("fields, name", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../etc/passwd"}, "timezone"),
    ({"timezone": "localtime"}, "timezone"),
    ({"timezone": "Factory"}, "timezone"),
    ({"working_hours": {"mon": [{"start": "17:00", "end": "09:00"}]}}, "working_hours"),
    ({"working_hours": {"monday": []}}, "working_hours"),
    ({"working_hours": {"mon": [{"start": "9:00", "end": "17:00"}]}}, "working_hours"),
    ({"working_hours": {"mon": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}]}},
     "working_hours"),
    ({"reminders": [0]}, "reminders"),
    ({"reminders": [60, 30, 20, 10, 5, 1]}, "reminders"),
])
def test_profile_scheduling_fields_are_validated(client, alice, fields, name):
    r = client.patch("/api/v1/users/me", json=fields, headers=alice.auth)
    assert r.status_code == 400 and any(key.startswith(name) for key in r.json["fields"])


def test_profile_scheduling_fields_round_trip(client, alice, set_profile):
    hours = {"tue": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "24:00"}]}
    me = set_profile(alice, timezone="America/New_York", working_hours=hours, reminders=[10, 120, 10])
    assert me["timezone"] == "America/New_York" and me["reminders"] == [120, 10]
    assert me["working_hours"]["tue"] == hours["tue"] and me["working_hours"]["mon"] == []


def starts(r):
    assert r.status_code == 200, r.json
    return [s["start"] for s in r.json["slots"]]


def first_per_day(r):
    seen = {}
    for start in starts(r):
        seen.setdefault(start[:10], start)
    return seen


def test_working_hours_follow_london_into_summer_time(client, alice, set_profile):
    set_profile(alice, timezone="Europe/London")
    r = client.get(f"/api/v1/users/me/availability?from={YEAR}-03-28T00:00:00Z&to={YEAR}-04-01T00:00:00Z&duration=60&step=60",
                   headers=alice.auth)
    assert first_per_day(r) == {f"{YEAR}-03-28": f"{YEAR}-03-28T09:00:00+00:00", f"{YEAR}-03-31": f"{YEAR}-03-31T08:00:00+00:00"}
    assert starts(r)[-1] == f"{YEAR}-03-31T15:00:00+00:00"


def test_working_hours_follow_new_york_out_of_summer_time(client, alice, set_profile):
    set_profile(alice, timezone="America/New_York")
    r = client.get(f"/api/v1/users/me/availability?from={YEAR}-10-31T00:00:00Z&to={YEAR}-11-04T00:00:00Z&duration=60&step=60",
                   headers=alice.auth)
    assert first_per_day(r) == {f"{YEAR}-10-31": f"{YEAR}-10-31T13:00:00+00:00", f"{YEAR}-11-03": f"{YEAR}-11-03T14:00:00+00:00"}


def test_availability_leaves_out_bookings_and_respects_duration(client, alice):
    book(client, alice, f"{YEAR}-07-01T10:00:00Z", f"{YEAR}-07-01T11:30:00Z")
    r = client.get(f"/api/v1/users/me/availability?from={YEAR}-07-01T08:00:00Z&to={YEAR}-07-01T13:00:00Z&duration=60",
                   headers=alice.auth)
    assert starts(r) == [f"{YEAR}-07-01T09:00:00+00:00", f"{YEAR}-07-01T11:30:00+00:00", f"{YEAR}-07-01T11:45:00+00:00",
                         f"{YEAR}-07-01T12:00:00+00:00"]


def test_busy_merges_my_commitments(client, alice):
    book(client, alice, f"{YEAR}-07-01T10:00:00Z", f"{YEAR}-07-01T11:00:00Z")
    book(client, alice, f"{YEAR}-07-01T11:00:00Z", f"{YEAR}-07-01T12:00:00Z")
    cancelled = book(client, alice, f"{YEAR}-07-01T14:00:00Z", f"{YEAR}-07-01T15:00:00Z").json["booking"]
    client.delete(f"{BOOKINGS}/{cancelled['id']}", headers=alice.auth)
    r = client.get(f"/api/v1/users/me/busy?from={YEAR}-07-01T00:00:00Z&to={YEAR}-07-02T00:00:00Z", headers=alice.auth)
    assert r.json["busy"] == [{"start": f"{YEAR}-07-01T10:00:00+00:00", "end": f"{YEAR}-07-01T12:00:00+00:00"}]


@pytest.mark.parametrize("query", [
    f"from={YEAR}-07-01T00:00:00Z",
    f"from={YEAR}-07-02T00:00:00Z&to={YEAR}-07-01T00:00:00Z",
    f"from={YEAR}-07-01T00:00:00Z&to={YEAR}-09-02T00:00:00Z",
    f"from={YEAR}-07-01T00:00:00Z&to={YEAR}-07-02T00:00:00Z&duration=2",
    f"from={YEAR}-07-01T00:00:00Z&to={YEAR}-07-02T00:00:00Z&step=abc",
    f"from=yesterday&to={YEAR}-07-02T00:00:00Z",
])
def test_availability_parameters_are_validated(client, alice, query):
    assert client.get(f"/api/v1/users/me/availability?{query}", headers=alice.auth).status_code == 400


def test_team_availability_across_zones_and_dst_weeks(client, alice, bob, set_profile, org_of):
    set_profile(alice, timezone="Europe/London")
    set_profile(bob, timezone="America/New_York")
    org = org_of(alice, bob)
    path = f"/api/v1/organizations/{org['id']}/availability"
    # 18 March: New York is already on summer time, London is not.
    r = client.get(f"{path}?from={YEAR}-03-18T00:00:00Z&to={YEAR}-03-19T00:00:00Z&duration=60&step=60", headers=bob.auth)
    assert starts(r) == [f"{YEAR}-03-18T{h}:00:00+00:00" for h in (13, 14, 15, 16)]
    # 8 April: both are on summer time.
    r = client.get(f"{path}?from={YEAR}-04-08T00:00:00Z&to={YEAR}-04-09T00:00:00Z&duration=60&step=60", headers=bob.auth)
    assert starts(r) == [f"{YEAR}-04-08T{h}:00:00+00:00" for h in (13, 14, 15)]


def test_team_availability_subset_and_bookings(client, alice, bob, register, set_profile, org_of):
    carol = register("Carol")
    org = org_of(alice, bob, carol)
    book(client, carol, f"{YEAR}-07-01T09:00:00Z", f"{YEAR}-07-01T17:00:00Z")
    book(client, bob, f"{YEAR}-07-01T09:00:00Z", f"{YEAR}-07-01T16:00:00Z")
    path = f"/api/v1/organizations/{org['id']}/availability?from={YEAR}-07-01T00:00:00Z&to={YEAR}-07-02T00:00:00Z&duration=60&step=60"
    assert starts(client.get(path, headers=alice.auth)) == []
    r = client.get(f"{path}&members={alice.id},{bob.id}", headers=alice.auth)
    assert starts(r) == [f"{YEAR}-07-01T16:00:00+00:00"] and r.json["members"] == sorted([alice.id, bob.id])


def test_team_availability_is_for_members_only(client, alice, bob, register, org_of):
    org = org_of(alice)
    path = f"/api/v1/organizations/{org['id']}/availability?from={YEAR}-07-01T00:00:00Z&to={YEAR}-07-02T00:00:00Z"
    assert client.get(path, headers=bob.auth).status_code == 404
    assert client.get(f"{path}&members={bob.id}", headers=alice.auth).status_code == 400


def test_notifications_show_times_in_my_zone(client, alice, set_profile):
    set_profile(alice, timezone="Europe/London")
    book(client, alice, f"{YEAR}-07-01T09:00:00", f"{YEAR}-07-01T10:00:00")
    [note] = client.get("/api/v1/notifications", headers=alice.auth).json
    assert f"Tue 01 Jul {YEAR}, 09:00 BST (Europe/London)" in note["message"]


@pytest.mark.parametrize("start, end", [
    ("9999-12-31T23:00:00-14:00", "9999-12-31T23:59:59-14:00"),
    ("0001-01-01T00:00:00", "0001-01-01T01:00:00"),
])
def test_times_beyond_the_calendar_are_400(client, alice, start, end):
    r = book(client, alice, start, end, timezone="America/New_York")
    assert r.status_code == 400 and "start" in r.json["fields"]


@pytest.mark.parametrize("window", ["from=0001-01-01T00:00:00&to=0001-01-02T00:00:00",
                                    "from=9999-12-30T00:00:00Z&to=9999-12-31T23:00:00Z"])
def test_availability_beyond_the_calendar_is_400(client, alice, window):
    assert client.get(f"/api/v1/users/me/availability?{window}", headers=alice.auth).status_code == 400
