"""Schedules (weekly hours in a zone), their date overrides, and event types that use them."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from helpers import answer_behind
from scheduler import clock

SCHEDULES = "/api/v1/schedules"
TYPES = "/api/v1/event-types"
ME = "/api/v1/users/me"
WEEKDAYS = {day: [{"start": "09:00", "end": "17:00"}] for day in ("mon", "tue", "wed", "thu", "fri")}
NO_DAYS = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
MORNINGS = {"mon": [{"start": "08:00", "end": "12:00"}]}


def local_today(zone="UTC"):
    return clock.now().astimezone(ZoneInfo(zone)).date()


def days_ahead(days, zone="UTC"):
    return (local_today(zone) + timedelta(days=days)).isoformat()


def made(client, user, name="Summer", **fields):
    r = client.post(SCHEDULES, json={"name": name, "working_hours": MORNINGS} | fields, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json["schedule"]


def default_of(client, user):
    [default] = [s for s in client.get(SCHEDULES, headers=user.auth).json["schedules"] if s["default"]]
    return default


def override(client, user, schedule, day, hours):
    return client.put(f"{SCHEDULES}/{schedule['id']}/overrides/{day}", json={"hours": hours}, headers=user.auth)


def overridden(client, user, schedule, day, hours):
    r = override(client, user, schedule, day, hours)
    assert r.status_code == 200, r.json
    return r.json["schedule"]


def test_a_new_person_has_a_default_schedule_with_their_own_hours(client, alice):
    me = client.get(ME, headers=alice.auth).json
    r = client.get(SCHEDULES, headers=alice.auth)
    assert r.status_code == 200
    [default] = r.json["schedules"]
    assert default == {"id": default["id"], "name": "Working hours", "timezone": me["timezone"],
                       "working_hours": me["working_hours"], "overrides": [], "default": True}


def test_patch_users_me_edits_the_default_schedule(client, alice, set_profile):
    set_profile(alice, timezone="Europe/Berlin", working_hours=MORNINGS)
    default = default_of(client, alice)
    assert default["timezone"] == "Europe/Berlin"
    assert default["working_hours"] == NO_DAYS | MORNINGS


def test_patching_the_default_schedule_edits_my_profile(client, alice):
    default = default_of(client, alice)
    r = client.patch(f"{SCHEDULES}/{default['id']}", json={"name": "Office", "timezone": "Asia/Tokyo",
                                                           "working_hours": MORNINGS}, headers=alice.auth)
    assert r.status_code == 200, r.json
    assert r.json["schedule"] == default | {"name": "Office", "timezone": "Asia/Tokyo",
                                            "working_hours": NO_DAYS | MORNINGS}
    me = client.get(ME, headers=alice.auth).json
    assert (me["timezone"], me["working_hours"]) == ("Asia/Tokyo", NO_DAYS | MORNINGS)
    assert client.get(SCHEDULES, headers=alice.auth).json["schedules"] == [r.json["schedule"]]


def test_renaming_the_default_schedule_leaves_my_hours(client, alice):
    before = client.get(ME, headers=alice.auth).json
    default = default_of(client, alice)
    r = client.patch(f"{SCHEDULES}/{default['id']}", json={"name": "Office"}, headers=alice.auth)
    assert r.status_code == 200 and r.json["schedule"]["name"] == "Office"
    after = client.get(ME, headers=alice.auth).json
    assert (after["timezone"], after["working_hours"]) == (before["timezone"], before["working_hours"])


def test_a_schedule_is_made_in_my_zone_unless_told(client, alice, set_profile):
    set_profile(alice, timezone="Europe/Lisbon")
    r = client.post(SCHEDULES, json={"name": " Summer ", "working_hours": MORNINGS}, headers=alice.auth)
    assert r.status_code == 201 and r.json["message"]
    assert r.json["schedule"] | {"id": None} == {"id": None, "name": "Summer", "timezone": "Europe/Lisbon",
                                                 "working_hours": NO_DAYS | MORNINGS, "overrides": [], "default": False}
    assert made(client, alice, timezone="America/Chicago")["timezone"] == "America/Chicago"
    names = [s["name"] for s in client.get(SCHEDULES, headers=alice.auth).json["schedules"]]
    assert names == ["Working hours", "Summer", "Summer"]


def test_a_day_may_end_at_midnight_and_intervals_may_touch(client, alice):
    hours = {"sat": [{"start": "00:00", "end": "12:00"}, {"start": "12:00", "end": "24:00"}]}
    assert made(client, alice, working_hours=hours)["working_hours"]["sat"] == hours["sat"]


@pytest.mark.parametrize("body, field", [
    ({"name": "", "working_hours": MORNINGS}, "name"),
    ({"name": "x" * 101, "working_hours": MORNINGS}, "name"),
    ({"name": "Summer"}, "working_hours"),
    ({"name": "Summer", "working_hours": MORNINGS, "timezone": "Mars/Olympus"}, "timezone"),
    ({"name": "Summer", "working_hours": {"monday": []}}, "working_hours.monday"),
    ({"name": "Summer", "working_hours": {"mon": [{"start": "12:00", "end": "09:00"}]}}, "working_hours.mon.0"),
    ({"name": "Summer", "working_hours": {"mon": [{"start": "24:00", "end": "24:00"}]}}, "working_hours.mon.0"),
    ({"name": "Summer", "working_hours": {"mon": [{"start": "09:00", "end": "13:00"},
                                                  {"start": "12:00", "end": "17:00"}]}}, "working_hours.mon"),
    ({"name": "Summer", "working_hours": {"mon": [{"start": "09:00", "end": "24:00"},
                                                  {"start": "12:00", "end": "17:00"}]}}, "working_hours.mon"),
])
def test_invalid_schedules_are_400_and_nothing_is_made(client, alice, body, field):
    r = client.post(SCHEDULES, json=body, headers=alice.auth)
    assert r.status_code == 400 and field in r.json["fields"], r.json
    assert len(client.get(SCHEDULES, headers=alice.auth).json["schedules"]) == 1


def test_overlapping_hours_say_so(client, alice):
    hours = {"tue": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}]}
    r = client.post(SCHEDULES, json={"name": "Summer", "working_hours": hours}, headers=alice.auth)
    assert r.json["fields"] == {"working_hours.tue": "intervals overlap"}


def test_patch_changes_what_is_given(client, alice):
    schedule = made(client, alice)
    path = f"{SCHEDULES}/{schedule['id']}"
    r = client.patch(path, json={"timezone": "Asia/Kolkata", "name": None}, headers=alice.auth)
    assert r.status_code == 200 and r.json["schedule"] == schedule | {"timezone": "Asia/Kolkata"}
    r = client.patch(path, json={"working_hours": WEEKDAYS}, headers=alice.auth)
    assert r.json["schedule"]["working_hours"] == NO_DAYS | WEEKDAYS and r.json["schedule"]["name"] == "Summer"
    assert client.get(path, headers=alice.auth).json == r.json["schedule"]
    assert client.patch(path, json={}, headers=alice.auth).status_code == 400
    assert client.patch(path, json={"name": None}, headers=alice.auth).status_code == 400
    assert client.patch(path, json={"timezone": "Nowhere/Land"}, headers=alice.auth).json["fields"].keys() == {"timezone"}


def test_others_schedules_are_404(client, alice, bob):
    schedule = made(client, alice)
    day = days_ahead(3)
    overridden(client, alice, schedule, day, [])
    for path in (f"{SCHEDULES}/{schedule['id']}", f"{SCHEDULES}/{default_of(client, alice)['id']}"):
        assert client.get(path, headers=bob.auth).status_code == 404
        assert client.patch(path, json={"name": "Mine"}, headers=bob.auth).status_code == 404
        assert client.delete(path, headers=bob.auth).status_code == 404
        assert client.put(f"{path}/overrides/{day}", json={"hours": []}, headers=bob.auth).status_code == 404
        assert client.delete(f"{path}/overrides/{day}", headers=bob.auth).status_code == 404
    assert [s["default"] for s in client.get(SCHEDULES, headers=bob.auth).json["schedules"]] == [True]
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=alice.auth).json["overrides"] == [
        {"date": day, "hours": []}]
    assert client.get(f"{SCHEDULES}/999999", headers=alice.auth).status_code == 404
    assert client.delete(f"{SCHEDULES}/999999", headers=alice.auth).status_code == 404


def test_the_default_schedule_cant_be_deleted(client, alice):
    default = default_of(client, alice)
    r = client.delete(f"{SCHEDULES}/{default['id']}", headers=alice.auth)
    assert r.status_code == 400 and "schedule_id" in r.json["fields"]
    assert default_of(client, alice) == default


def test_deleting_a_schedule_takes_its_overrides(client, alice, db):
    schedule = made(client, alice)
    overridden(client, alice, schedule, days_ahead(2), [])
    assert client.delete(f"{SCHEDULES}/{schedule['id']}", headers=alice.auth).status_code == 204
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=alice.auth).status_code == 404
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM schedule_overrides WHERE schedule_id = %s", (schedule["id"],))
        assert cur.fetchone()[0] == 0


def test_a_schedule_in_use_is_not_deleted(client, alice):
    schedule = made(client, alice)
    event_type = client.post(TYPES, json={"slug": "intro", "title": "Intro", "duration": 30,
                                          "schedule_id": schedule["id"]}, headers=alice.auth).json["event_type"]
    client.post(TYPES, json={"slug": "other", "title": "Other", "duration": 30}, headers=alice.auth)
    path = f"{SCHEDULES}/{schedule['id']}"
    r = client.delete(path, headers=alice.auth)
    assert r.status_code == 409
    assert r.json["event_types"] == [{"id": event_type["id"], "slug": "intro", "title": "Intro"}]
    assert client.get(path, headers=alice.auth).status_code == 200
    client.patch(f"{TYPES}/{event_type['id']}", json={"schedule_id": None}, headers=alice.auth)
    assert client.delete(path, headers=alice.auth).status_code == 204


def test_an_event_type_uses_one_of_my_schedules(client, alice):
    schedule = made(client, alice)
    default = default_of(client, alice)
    r = client.post(TYPES, json={"slug": "intro", "title": "Intro", "duration": 30, "schedule_id": schedule["id"]},
                    headers=alice.auth)
    assert r.status_code == 201 and r.json["event_type"]["schedule_id"] == schedule["id"]
    path = f"{TYPES}/{r.json['event_type']['id']}"
    assert client.get(path, headers=alice.auth).json["schedule_id"] == schedule["id"]
    # My default schedule's id is kept as given (null would mean the same schedule).
    assert client.patch(path, json={"schedule_id": default["id"]}, headers=alice.auth).json["event_type"][
        "schedule_id"] == default["id"]
    assert client.patch(path, json={"schedule_id": None}, headers=alice.auth).json["event_type"]["schedule_id"] is None
    plain = client.post(TYPES, json={"slug": "plain", "title": "Plain", "duration": 30}, headers=alice.auth)
    assert plain.json["event_type"]["schedule_id"] is None


def test_an_event_type_cant_use_someone_elses_or_no_schedule(client, alice, bob):
    bobs = made(client, bob)
    for schedule_id in (bobs["id"], default_of(client, bob)["id"], 999999):
        r = client.post(TYPES, json={"slug": "intro", "title": "Intro", "duration": 30, "schedule_id": schedule_id},
                        headers=alice.auth)
        assert r.status_code == 400 and "schedule_id" in r.json["fields"]
    assert client.get(TYPES, headers=alice.auth).json == []
    event_type = client.post(TYPES, json={"slug": "intro", "title": "Intro", "duration": 30},
                             headers=alice.auth).json["event_type"]
    r = client.patch(f"{TYPES}/{event_type['id']}", json={"schedule_id": bobs["id"]}, headers=alice.auth)
    assert r.status_code == 400 and "schedule_id" in r.json["fields"]
    assert client.get(f"{TYPES}/{event_type['id']}", headers=alice.auth).json["schedule_id"] is None
    for value in (0, -1, "1", 1.5):
        r = client.patch(f"{TYPES}/{event_type['id']}", json={"schedule_id": value}, headers=alice.auth)
        assert r.status_code == 400 and "schedule_id" in r.json["fields"]


def test_an_override_gives_a_date_other_hours(client, alice):
    schedule = made(client, alice)
    later, sooner = days_ahead(9), days_ahead(2)
    hours = [{"start": "14:00", "end": "18:00"}, {"start": "08:00", "end": "10:00"}]
    r = override(client, alice, schedule, later, hours)
    assert r.status_code == 200 and set(r.json) == {"schedule"}
    assert r.json["schedule"] == schedule | {"overrides": [{"date": later, "hours": hours}]}
    shown = overridden(client, alice, schedule, sooner, [])
    assert shown["overrides"] == [{"date": sooner, "hours": []}, {"date": later, "hours": hours}]
    replaced = overridden(client, alice, schedule, later, [{"start": "20:00", "end": "24:00"}])
    assert replaced["overrides"][1] == {"date": later, "hours": [{"start": "20:00", "end": "24:00"}]}
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=alice.auth).json == replaced


def test_the_default_schedule_takes_overrides_too(client, alice):
    default = default_of(client, alice)
    day = days_ahead(1)
    assert overridden(client, alice, default, day, [])["overrides"] == [{"date": day, "hours": []}]
    assert default_of(client, alice)["overrides"] == [{"date": day, "hours": []}]


def test_deleting_an_override(client, alice):
    schedule = made(client, alice)
    day = days_ahead(4)
    overridden(client, alice, schedule, day, [])
    path = f"{SCHEDULES}/{schedule['id']}/overrides/{day}"
    assert client.delete(path, headers=alice.auth).status_code == 204
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=alice.auth).json["overrides"] == []
    r = client.delete(path, headers=alice.auth)
    assert r.status_code == 404 and r.json["error"] == "Override not found"


@pytest.mark.parametrize("day, why", [
    ("2027-02-30", "not a date"), ("2027-13-01", "not a date"), ("2027-2-3", "YYYY-MM-DD"),
    ("tomorrow", "YYYY-MM-DD"), ("٢٠٢٧-٠١-٠١", "YYYY-MM-DD"),
])
def test_an_override_needs_a_real_date(client, alice, day, why):
    schedule = made(client, alice)
    for answer in (override(client, alice, schedule, day, []),
                   client.delete(f"{SCHEDULES}/{schedule['id']}/overrides/{day}", headers=alice.auth)):
        assert answer.status_code == 400 and why in answer.json["fields"]["day"]


@pytest.mark.parametrize("hours, field", [
    ([{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}], "hours"),
    ([{"start": "00:00", "end": "24:00"}, {"start": "23:00", "end": "23:30"}], "hours"),
    ([{"start": "13:00", "end": "12:00"}], "hours.0"),
    ([{"start": "24:00", "end": "24:00"}], "hours.0"),
    ([{"start": "9:00", "end": "12:00"}], "hours.0.start"),
    ([{"start": "09:00", "end": "24:01"}], "hours.0.end"),
    ([{"start": f"{h:02}:00", "end": f"{h:02}:30"} for h in range(7)], "hours"),
    (None, "hours"),
    ("closed", "hours"),
])
def test_an_overrides_hours_are_checked(client, alice, hours, field):
    schedule = made(client, alice)
    r = override(client, alice, schedule, days_ahead(3), hours)
    assert r.status_code == 400 and field in r.json["fields"], r.json
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=alice.auth).json["overrides"] == []


def test_overrides_start_yesterday_in_the_schedules_zone(client, alice):
    """Pago Pago (UTC-11) is always at least a date behind Kiritimati (UTC+14): its yesterday is
    before Kiritimati's, so the past there."""
    ahead = made(client, alice, timezone="Pacific/Kiritimati")
    behind = made(client, alice, timezone="Pacific/Pago_Pago")
    yesterday = days_ahead(-1, "Pacific/Pago_Pago")
    assert overridden(client, alice, behind, yesterday, [])["overrides"] == [{"date": yesterday, "hours": []}]
    r = override(client, alice, ahead, yesterday, [])
    assert r.status_code == 400 and r.json["fields"] == {"day": "is in the past"}
    assert override(client, alice, ahead, days_ahead(-1, "Pacific/Kiritimati"), []).status_code == 200


def test_older_overrides_are_hidden_then_deleted(client, alice, db):
    schedule = made(client, alice)
    with db.cursor() as cur:
        cur.executemany("INSERT INTO schedule_overrides (schedule_id, day, hours) VALUES (%s, %s, '[]')",
                        [(schedule["id"], days_ahead(-2)), (schedule["id"], days_ahead(-30)),
                         (schedule["id"], days_ahead(-1))])
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=alice.auth).json["overrides"] == [
        {"date": days_ahead(-1), "hours": []}]
    overridden(client, alice, schedule, days_ahead(5), [])
    with db.cursor() as cur:
        cur.execute("SELECT day::text FROM schedule_overrides WHERE schedule_id = %s ORDER BY day", (schedule["id"],))
        assert [day for day, in cur.fetchall()] == [days_ahead(-1), days_ahead(5)]


def fill(db, schedule, days):
    with db.cursor() as cur:
        cur.executemany("INSERT INTO schedule_overrides (schedule_id, day, hours) VALUES (%s, %s, '[]')",
                        [(schedule["id"], days_ahead(day)) for day in days])


def test_a_schedule_has_at_most_366_overrides_from_yesterday_on(client, alice, db):
    schedule = made(client, alice)
    fill(db, schedule, range(-1, 365))
    r = override(client, alice, schedule, days_ahead(400), [])
    assert r.status_code == 409 and "366" in r.json["error"]
    assert overridden(client, alice, schedule, days_ahead(10), [{"start": "10:00", "end": "11:00"}])  # a replacement
    assert client.delete(f"{SCHEDULES}/{schedule['id']}/overrides/{days_ahead(-1)}", headers=alice.auth).status_code == 204
    assert len(overridden(client, alice, schedule, days_ahead(400), [])["overrides"]) == 366


def test_older_overrides_dont_count(client, alice, db):
    schedule = made(client, alice)
    fill(db, schedule, range(-10, 364))
    assert len(overridden(client, alice, schedule, days_ahead(400), [])["overrides"]) == 366


def test_the_limit_is_counted_under_the_schedules_lock(app, alice, database_url, db):
    """A PUT waits for another change to the schedule holding its row, then counts what that one
    wrote: two PUTs can't both pass the limit."""
    client = app.test_client()
    schedule = made(client, alice)
    fill(db, schedule, range(-1, 364))

    def other_put(cur):  # mid-transaction, adding the 366th
        cur.execute("SELECT 1 FROM schedules WHERE id = %s FOR UPDATE", (schedule["id"],))
        cur.execute("INSERT INTO schedule_overrides (schedule_id, day, hours) VALUES (%s, %s, '[]')",
                    (schedule["id"], days_ahead(364)))

    r = answer_behind(database_url, other_put, lambda: override(app.test_client(), alice, schedule, days_ahead(400), []))
    assert r.status_code == 409
