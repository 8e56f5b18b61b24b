"""A host's week in the slot list and when guests book: date overrides, time off and a weekly
limit, in zones with a 30-minute offset and with DST changes; where availability is read
elsewhere (busy, availability, invitations); and the races of time off and the weekly limit
against guests booking. The routes that set them up are tested in test_schedules.py and
test_time_off.py."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.booking_links import (DAYS, GUEST, PUBLIC, at, book, booked, host, hours_in, local_day,  # noqa: F401
                                 make_type, next_transition)
from tests.test_races import at_once

ZONES = pytest.mark.parametrize("zone", ["Asia/Kolkata", "Europe/London", "America/Los_Angeles"])


def default_schedule(client, user):
    [schedule] = [s for s in client.get("/api/v1/schedules", headers=user.auth).json["schedules"] if s["default"]]
    return schedule


def override(client, user, day, hours, schedule=None):
    schedule = schedule or default_schedule(client, user)
    r = client.put(f"/api/v1/schedules/{schedule['id']}/overrides/{day}", json={"hours": hours}, headers=user.auth)
    assert r.status_code == 200, r.json
    return r.json["schedule"]


def time_off(client, user, start, end):
    r = client.post("/api/v1/users/me/time-off", json={"start": start.isoformat(), "end": end.isoformat()},
                    headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json


def slot_list(client, day, zone, days=1, link="hana/intro", guest_zone="UTC"):
    """The slot list of `days` local dates from `day` in `zone`, written in the guest's zone."""
    r = client.get(f"{PUBLIC}/{link}/slots", query_string={
        "from": at(day, "00:00", zone).isoformat(), "to": at(day + timedelta(days=days), "00:00", zone).isoformat(),
        "timezone": guest_zone})
    assert r.status_code == 200, r.json
    return r.json


def local_starts(listed, zone):
    """The offered starts as wall-clock times in `zone`."""
    return [datetime.fromisoformat(s["start"]).astimezone(ZoneInfo(zone)).strftime("%H:%M") for s in listed["slots"]]


def reasons(listed):
    return {d["date"]: d["reason"] for d in listed["days"]}


# Date overrides

@ZONES
def test_an_override_replaces_that_local_dates_hours_only(client, host, make_type, set_profile, zone):
    set_profile(host, timezone=zone)
    make_type(duration=60)
    day = local_day(10, zone)
    override(client, host, day, [{"start": "13:00", "end": "15:00"}, {"start": "20:00", "end": "24:00"}])
    listed = slot_list(client, day, zone, days=2, guest_zone="Pacific/Auckland")
    assert local_starts(listed, zone) == ["13:00", "14:00", "20:00", "21:00", "22:00", "23:00"] + [
        f"{h:02}:00" for h in range(9, 17)]
    assert book(client, at(day, "09:00", zone)).status_code == 400
    assert "not an offered start" in book(client, at(day, "10:00", zone)).json["fields"]["start"]
    assert book(client, at(day, "13:00", zone)).status_code == 201
    assert book(client, at(day, "23:00", zone), email="late@example.com").status_code == 201
    assert book(client, at(day + timedelta(days=1), "09:00", zone), email="next@example.com").status_code == 201


@ZONES
def test_a_closed_date_says_so_and_takes_no_bookings(client, host, make_type, set_profile, zone):
    set_profile(host, timezone=zone)
    make_type(duration=60)
    day = local_day(10, zone)
    override(client, host, day, [])
    listed = slot_list(client, day - timedelta(days=1), zone, days=3, guest_zone=zone)
    assert reasons(listed) == {str(day): "closed"}
    assert local_starts(listed, zone) == [f"{h:02}:00" for h in range(9, 17)] * 2
    assert "not an offered start" in book(client, at(day, "10:00", zone)).json["fields"]["start"]
    r = client.delete(f"/api/v1/schedules/{default_schedule(client, host)['id']}/overrides/{day}", headers=host.auth)
    assert r.status_code == 204
    assert book(client, at(day, "10:00", zone)).status_code == 201


def test_a_date_without_weekday_hours_opened_by_an_override(client, host, make_type, set_profile):
    set_profile(host, timezone="Asia/Kolkata", working_hours={d: [{"start": "09:00", "end": "17:00"}] for d in DAYS[:5]})
    make_type(duration=30, step=30)
    day = local_day(10, "Asia/Kolkata")
    day += timedelta(days=(5 - day.weekday()) % 7)  # a Saturday
    assert reasons(slot_list(client, day, "Asia/Kolkata"))[str(day)] == "no_working_hours"
    override(client, host, day, [{"start": "10:30", "end": "12:00"}])
    assert local_starts(slot_list(client, day, "Asia/Kolkata"), "Asia/Kolkata") == ["10:30", "11:00", "11:30"]
    assert booked(client, at(day, "11:30", "Asia/Kolkata"))


@pytest.mark.parametrize("nth", [1, 2], ids=["spring", "autumn"])
def test_an_override_on_a_dst_day_is_read_in_that_days_offsets(client, host, make_type, set_profile, nth):
    zone = "America/New_York"
    set_profile(host, timezone=zone)
    make_type(duration=60, booking_window=365)
    change = next_transition(zone, nth)
    override(client, host, change, [{"start": "01:00", "end": "05:00"}])
    listed = slot_list(client, change, zone, guest_zone=zone)
    spring = hours_in(change, zone) == 23
    # 01:00-05:00 holds 3 hours in spring (02:00 does not exist) and 5 in autumn (01:00 twice,
    # offered once): each offered local time is one that exists, each once.
    assert local_starts(listed, zone) == (["01:00", "03:00", "04:00"] if spring else ["01:00", "02:00", "03:00", "04:00"])
    assert len({s["start"] for s in listed["slots"]}) == len(listed["slots"])
    first = listed["slots"][0]["start"]
    assert book(client, first).status_code == 201
    if not spring:
        second_one_oclock = f"{change}T01:00:00-05:00"
        assert "not an offered start" in book(client, second_one_oclock, email="b@example.com").json["fields"]["start"]


def test_a_type_on_another_schedule_offers_that_schedules_hours_in_its_zone(client, host, make_type):
    r = client.post("/api/v1/schedules", headers=host.auth, json={
        "name": "Saturday clinic", "timezone": "Asia/Kolkata",
        "working_hours": {"sat": [{"start": "10:00", "end": "13:00"}]}})
    assert r.status_code == 201, r.json
    clinic = r.json["schedule"]
    make_type(slug="clinic", duration=60, schedule_id=clinic["id"])
    make_type(duration=60)
    day = local_day(10, "Asia/Kolkata")
    saturday = day + timedelta(days=(5 - day.weekday()) % 7)
    week = slot_list(client, saturday - timedelta(days=5), "Asia/Kolkata", days=7, link="hana/clinic")
    assert local_starts(week, "Asia/Kolkata") == ["10:00", "11:00", "12:00"]
    override(client, host, saturday, [{"start": "16:30", "end": "18:30"}], schedule=clinic)
    assert local_starts(slot_list(client, saturday, "Asia/Kolkata", link="hana/clinic"), "Asia/Kolkata") == [
        "16:30", "17:30"]
    # The default schedule (UTC, 09:00-17:00) is untouched by the clinic's override.
    assert len(slot_list(client, saturday, "UTC", link="hana/intro")["slots"]) == 8
    assert book(client, at(saturday, "17:30", "Asia/Kolkata"), link="hana/clinic").status_code == 201


# Time off

@ZONES
def test_time_off_empties_the_slot_list_and_guests_get_409(client, host, make_type, set_profile, zone):
    set_profile(host, timezone=zone)
    make_type(duration=60)
    day = local_day(10, zone)
    time_off(client, host, at(day, "00:00", zone), at(day + timedelta(days=1), "12:00", zone))
    listed = slot_list(client, day, zone, days=3, guest_zone=zone)
    assert reasons(listed) == {str(day): "time_off"}
    assert local_starts(listed, zone) == ["12:00", "13:00", "14:00", "15:00", "16:00"] + [
        f"{h:02}:00" for h in range(9, 17)]
    for start in (at(day, "10:00", zone), at(day + timedelta(days=1), "11:00", zone)):
        r = book(client, start)
        assert r.status_code == 409 and "not available" in r.json["fields"]["start"], r.json
        assert "time off" not in str(r.json).lower() and "away" not in str(r.json).lower()
    assert book(client, at(day + timedelta(days=1), "12:00", zone)).status_code == 201


def test_time_off_counts_with_buffers_and_in_reschedule_slots(client, host, make_type):
    make_type(duration=30, buffer_after=30)
    day = local_day(10)
    mine = booked(client, at(day, "09:00"))
    time_off(client, host, at(day, "12:00"), at(day, "13:00"))
    # 11:30 would end at 12:00 but its buffer runs into the time off.
    assert book(client, at(day, "11:30"), email="x@example.com").status_code == 409
    slots = client.get(f"{GUEST}/{mine['manage_token']}/slots", query_string={
        "from": at(day, "00:00").isoformat(), "to": at(day, "23:59").isoformat()}).json["slots"]
    starts = {s["start"][11:16] for s in slots}
    assert "11:00" in starts and not starts & {"11:30", "12:00", "12:30"}
    r = client.post(f"{GUEST}/{mine['manage_token']}/reschedule", json={"start": at(day, "12:30").isoformat()})
    assert r.status_code == 409, r.json
    assert client.post(f"{GUEST}/{mine['manage_token']}/reschedule",
                       json={"start": at(day, "13:00").isoformat()}).status_code == 200


def test_time_off_is_busy_and_not_available_wherever_availability_is_read(client, host, register, set_profile,
                                                                            org_of):
    colleague = register("Cleo")
    org = org_of(colleague, host)
    day = local_day(10)
    time_off(client, host, at(day, "10:00"), at(day, "12:00"))
    window = {"from": at(day, "00:00").isoformat(), "to": at(day + timedelta(days=1), "00:00").isoformat()}
    busy = client.get("/api/v1/users/me/busy", query_string=window, headers=host.auth).json["busy"]
    assert busy == [{"start": at(day, "10:00").isoformat(), "end": at(day, "12:00").isoformat()}]
    mine = client.get("/api/v1/users/me/availability", query_string=window | {"duration": 60, "step": 60},
                      headers=host.auth).json["slots"]
    assert [s["start"][11:16] for s in mine] == ["09:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    team = client.get(f"/api/v1/organizations/{org['id']}/availability", query_string=window | {
        "duration": 60, "step": 60}, headers=colleague.auth).json["slots"]
    assert [s["start"][11:16] for s in team] == ["09:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    # Inviting someone into their time off: 409 saying they are away, nothing more.
    r = client.post("/api/v1/bookings", headers=colleague.auth, json={
        "title": "Sync", "start": at(day, "11:00").isoformat(), "end": at(day, "11:30").isoformat(),
        "attendees": [host.id]})
    assert r.status_code == 409, r.json
    assert r.json["conflicts"] == [{"user_id": host.id, "name": "Hana", "email": host.email, "reason": "away"}]
    # ... and moving a booking with them into it.
    r = client.post("/api/v1/bookings", headers=colleague.auth, json={
        "title": "Sync", "start": at(day, "09:00").isoformat(), "end": at(day, "09:30").isoformat(),
        "attendees": [host.id]})
    assert r.status_code == 201, r.json
    moved = client.patch(f"/api/v1/bookings/{r.json['booking']['id']}", headers=colleague.auth, json={
        "start": at(day, "10:30").isoformat(), "end": at(day, "11:00").isoformat()})
    assert moved.status_code == 409 and moved.json["conflicts"][0]["reason"] == "away", moved.json
    # The host's own bookings during their own time off are theirs to make.
    own = client.post("/api/v1/bookings", headers=host.auth, json={
        "title": "Dentist", "start": at(day, "10:00").isoformat(), "end": at(day, "11:00").isoformat()})
    assert own.status_code == 201, own.json


# Weekly limit

def test_a_weekly_limit_counts_per_host_local_iso_week(client, host, make_type, set_profile):
    zone = "Asia/Kolkata"
    set_profile(host, timezone=zone, working_hours={d: [{"start": "00:00", "end": "24:00"}] for d in DAYS})
    make_type(duration=60, step=30, weekly_limit=2)
    day = local_day(14, zone)
    monday = day - timedelta(days=day.weekday())
    # 00:30 on Monday in Kolkata is Sunday evening in UTC: it counts in the host's new week.
    booked(client, at(monday, "00:30", zone))
    booked(client, at(monday + timedelta(days=3), "10:00", zone), email="b@example.com")
    week = slot_list(client, monday, zone, days=7, guest_zone=zone)
    assert week["slots"] == [] and set(reasons(week).values()) == {"fully_booked"} and len(week["days"]) == 7
    r = book(client, at(monday + timedelta(days=6), "23:00", zone), email="c@example.com")
    assert r.status_code == 409 and "week" in r.json["fields"]["start"], r.json
    assert book(client, at(monday - timedelta(days=1), "23:00", zone), email="c@example.com").status_code == 201
    assert book(client, at(monday + timedelta(days=7), "00:00", zone), email="d@example.com").status_code == 201


# The availability grid

def test_my_availability_starts_at_my_working_hours_opening_in_my_zone(client, alice, set_profile):
    set_profile(alice, timezone="Asia/Kolkata")
    day = local_day(10, "Asia/Kolkata")
    day += timedelta(days=(0 - day.weekday()) % 7)  # a Monday: default hours 09:00-17:00
    r = client.get("/api/v1/users/me/availability", headers=alice.auth, query_string={
        "from": at(day, "00:00", "Asia/Kolkata").isoformat(), "to": at(day, "23:59", "Asia/Kolkata").isoformat(),
        "duration": 60, "step": 60})
    assert local_starts(r.json, "Asia/Kolkata") == [f"{h:02}:00" for h in range(9, 17)]


def test_team_availability_starts_at_the_common_intervals_opening(client, alice, bob, set_profile, org_of):
    set_profile(alice, timezone="Asia/Kolkata")
    set_profile(bob, timezone="Europe/London")
    org = org_of(alice, bob)
    day = local_day(10, "Asia/Kolkata")
    day += timedelta(days=(0 - day.weekday()) % 7)
    r = client.get(f"/api/v1/organizations/{org['id']}/availability", headers=alice.auth, query_string={
        "from": at(day, "00:00", "Asia/Kolkata").isoformat(), "to": at(day, "23:59", "Asia/Kolkata").isoformat(),
        "duration": 60, "step": 60})
    # Common hours open at 09:00 London (13:30 or 14:30 in Kolkata) and close at 17:00 Kolkata.
    starts = local_starts(r.json, "Europe/London")
    assert starts and starts[0] == "09:00" and all(s.endswith(":00") for s in starts)


# Races

def test_time_off_created_while_guests_book_lists_every_booking_inside_it(app, client, host, make_type, db):
    make_type(duration=15, step=15)
    day = local_day(10)
    starts = [at(day, "09:00") + timedelta(minutes=15 * n) for n in range(20)]
    calls = [("POST", f"{PUBLIC}/hana/intro/bookings",
              {"start": s.isoformat(), "name": f"G{n}", "email": f"g{n}@example.com"}, {}) for n, s in enumerate(starts)]
    away = ("POST", "/api/v1/users/me/time-off", {"start": at(day, "09:00").isoformat(),
                                                    "end": at(day, "17:00").isoformat()}, host.auth)
    answers = at_once(app, calls[:10] + [away] + calls[10:])
    status, _, created = answers[10]
    assert status == 201, created
    assert {s for s, _, _ in answers[:10] + answers[11:]} <= {201, 409}
    with db.cursor() as cur:
        cur.execute("SELECT id FROM bookings WHERE status = 'confirmed' AND start_time >= %s AND start_time < %s",
                    (at(day, "09:00"), at(day, "17:00")))
        inside = {row[0] for row in cur.fetchall()}
    assert {c["id"] for c in created["conflicts"]} == inside
    assert book(client, starts[-1] + timedelta(minutes=15)).status_code == 409


def test_a_weekly_limit_of_two_holds_against_ten_parallel_guests(app, host, make_type, db):
    make_type(duration=30, weekly_limit=2)
    day = local_day(14)
    monday = day - timedelta(days=day.weekday())
    starts = [at(monday + timedelta(days=n % 5), f"{9 + n // 5:02}:00") for n in range(10)]
    answers = at_once(app, [("POST", f"{PUBLIC}/hana/intro/bookings",
                             {"start": s.isoformat(), "name": f"G{n}", "email": f"g{n}@example.com"}, {})
                            for n, s in enumerate(starts)])
    assert sorted(status for status, _, _ in answers) == [201] * 2 + [409] * 8
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings WHERE status = 'confirmed'")
        assert cur.fetchone()[0] == 2
