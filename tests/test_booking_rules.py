"""Every rule of a booking link, in the slot list and again when a guest books (400 with the
reason in fields.start; 409 when the time is taken or the day is full). Times are counted from
the test clock; DST days are found in the zones' own rules."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler import clock
from tests.booking_links import (DAYS, at, book, booked, host, hours_in, local_day, make_type, next_transition,  # noqa: F401
                                 slot_starts)

ALL_DAY = {day: [{"start": "00:00", "end": "24:00"}] for day in DAYS}


def refused(response, status, reason):
    assert response.status_code == status, response.json
    assert reason in response.json["fields"]["start"], response.json
    return response


def test_slots_lie_in_working_hours_and_are_written_in_the_guests_zone(client, host, make_type):
    make_type()
    day = local_day()
    starts = slot_starts(client, at(day, "00:00"), at(day + timedelta(days=1), "00:00"))
    assert len(starts) == 16
    assert (starts[0], starts[-1]) == (at(day, "09:00").isoformat(), at(day, "16:30").isoformat())
    kolkata = slot_starts(client, at(day, "00:00"), at(day + timedelta(days=1), "00:00"), zone="Asia/Kolkata")
    assert kolkata[0] == at(day, "14:30", "Asia/Kolkata").isoformat() and kolkata[0].endswith("+05:30")


def test_starts_step_from_each_working_intervals_own_start(client, host, make_type, set_profile):
    set_profile(host, working_hours={d: [{"start": "09:10", "end": "12:00"}, {"start": "13:00", "end": "14:00"}]
                                     for d in DAYS})
    make_type(duration=30, step=45)
    day = local_day()
    starts = slot_starts(client, at(day, "00:00"), at(day, "23:59"))
    assert starts == [at(day, t).isoformat() for t in ("09:10", "09:55", "10:40", "11:25", "13:00")]
    refused(book(client, at(day, "09:15")), 400, "not an offered start")
    refused(book(client, at(day, "13:45")), 400, "whole booking inside")
    refused(book(client, at(day, "07:10")), 400, "not an offered start")
    assert book(client, at(day, "13:00")).status_code == 201


def test_minimum_notice_holds_in_the_list_and_when_booking(client, host, make_type, set_profile):
    set_profile(host, working_hours=ALL_DAY)
    make_type(duration=15, minimum_notice=180)
    now = clock.now()
    starts = slot_starts(client, now, now + timedelta(days=1))
    first = min(starts)
    assert now + timedelta(minutes=180) <= datetime_of(first) < now + timedelta(minutes=195)
    soon = next_quarter(now + timedelta(minutes=30))
    refused(book(client, soon), 400, "too soon: bookings need 3 hours notice")
    refused(book(client, next_quarter(now) - timedelta(minutes=15)), 400, "in the past")
    assert book(client, first).status_code == 201


def test_booking_window_holds_in_the_list_and_when_booking(client, host, make_type):
    make_type(booking_window=2)
    now = clock.now()
    starts = slot_starts(client, now, now + timedelta(days=5))
    assert starts and max(datetime_of(s) for s in starts) <= now + timedelta(days=2)
    refused(book(client, at(local_day(3), "10:00")), 400, "too far ahead")
    assert book(client, starts[-1]).status_code == 201


def test_buffers_keep_time_free_on_both_sides(client, host, make_type):
    make_type(duration=30, step=15, buffer_before=15, buffer_after=15)
    day = local_day()
    r = client.post("/api/v1/bookings", json={"title": "Lunch", "start": at(day, "12:00").isoformat(),
                                              "end": at(day, "13:00").isoformat()}, headers=host.auth)
    assert r.status_code == 201
    starts = slot_starts(client, at(day, "10:00"), at(day, "14:00"))
    assert at(day, "11:15").isoformat() in starts and at(day, "13:15").isoformat() in starts
    assert not [s for s in starts if at(day, "11:15") < datetime_of(s) < at(day, "13:15")]
    refused(book(client, at(day, "11:30")), 409, "taken")  # its after-buffer would touch lunch
    refused(book(client, at(day, "13:00")), 409, "taken")  # its before-buffer would touch lunch
    booked(client, at(day, "11:15"))
    # One guest booking's buffers against another's: 10:30 would end inside 11:15's before-buffer.
    refused(book(client, at(day, "10:30")), 409, "taken")
    booked(client, at(day, "10:15"))
    assert at(day, "10:30").isoformat() not in slot_starts(client, at(day, "10:00"), at(day, "14:00"))


def test_buffers_hold_against_the_hosts_own_bookings_too(client, host, make_type):
    make_type(duration=30, buffer_after=20)
    day = local_day()
    booked(client, at(day, "10:00"))
    r = client.post("/api/v1/bookings", json={"title": "Squeezed", "start": at(day, "10:40").isoformat(),
                                              "end": at(day, "11:00").isoformat()}, headers=host.auth)
    assert r.status_code == 409
    assert [(c["start_time"], c["end_time"]) for c in r.json["conflicts"]] == [
        (at(day, "10:00").isoformat(), at(day, "10:50").isoformat())]
    busy = client.get("/api/v1/users/me/busy", query_string={"from": at(day, "00:00").isoformat(),
                                                              "to": at(day, "23:00").isoformat()}, headers=host.auth)
    assert busy.json["busy"] == [{"start": at(day, "10:00").isoformat(), "end": at(day, "10:50").isoformat()}]


def test_daily_limit_counts_per_host_local_day(client, host, make_type, set_profile):
    zone = "America/Los_Angeles"
    # 15:00-20:00 in Los Angeles spans midnight UTC: both ends are one host-local day.
    set_profile(host, timezone=zone, working_hours={d: [{"start": "15:00", "end": "20:00"}] for d in DAYS})
    make_type(daily_limit=1)
    day = local_day(10, zone)
    booked(client, at(day, "15:00", zone))
    refused(book(client, at(day, "19:00", zone)), 409, "fully booked")
    assert slot_starts(client, at(day, "00:00", zone), at(day + timedelta(days=1), "00:00", zone), zone) == []
    assert slot_starts(client, at(day + timedelta(days=1), "00:00", zone), at(day + timedelta(days=2), "00:00", zone))
    booked(client, at(day + timedelta(days=1), "19:00", zone))


@pytest.mark.parametrize("nth", [1, 2])
def test_dst_in_the_hosts_zone(client, host, make_type, set_profile, nth):
    zone = "Europe/Berlin"
    change = next_transition(zone, nth)
    hours = {d: [{"start": "09:00", "end": "17:00"}] for d in DAYS} | {DAYS[change.weekday()]: [
        {"start": "00:00", "end": "06:00"}]}
    set_profile(host, timezone=zone, working_hours=hours)
    make_type(duration=60, booking_window=365)
    before = change - timedelta(days=1)
    day_before = slot_starts(client, at(before, "00:00", zone), at(change, "00:00", zone), zone)
    assert day_before == [at(before, f"{h:02}:00", zone).isoformat() for h in range(9, 17)]
    # Starts step in elapsed time from the interval's opening: across the change they keep to
    # the hour in local time. The night holds 5 hours in spring; in autumn 7, but the local hour
    # the change repeats is offered once (its first pass), so 6 starts, each local time once.
    night = slot_starts(client, at(change, "00:00", zone), at(change, "12:00", zone), zone)
    hours_long = hours_in(change, zone)
    assert len(night) == (5 if hours_long == 23 else 6)
    assert all(s[14:19] == "00:00" for s in night) and len({s[-6:] for s in night}) == 2
    assert len({s[:19] for s in night}) == len(night)
    if hours_long == 23:
        refused(book(client, f"{change}T02:00:00", timezone=zone), 400, "does not exist")
    else:
        refused(book(client, f"{change}T02:00:00+01:00"), 400, "not an offered start")
    assert book(client, night[-1]).status_code == 201
    after = change + timedelta(days=1)
    assert slot_starts(client, at(after, "00:00", zone), at(after, "10:00", zone), zone) == [
        at(after, "09:00", zone).isoformat()]


@pytest.mark.parametrize("nth", [1, 2])
def test_dst_in_the_guests_zone(client, host, make_type, set_profile, nth):
    zone = "America/New_York"
    change = next_transition(zone, nth)
    set_profile(host, working_hours=ALL_DAY)
    make_type(duration=60, booking_window=365)
    r = client.get("/api/v1/public/hana/intro/slots", query_string={
        "from": f"{change}T00:00:00", "to": f"{change + timedelta(days=1)}T00:00:00", "timezone": zone})
    starts = [s["start"] for s in r.json["slots"]]
    hours_long = hours_in(change, zone)
    assert len(starts) == hours_long and {s[-6:] for s in starts} == {"-05:00", "-04:00"}
    assert starts[0] == f"{change}T00:00:00{starts[0][-6:]}"
    if hours_long == 23:
        refused(book(client, f"{change}T02:30:00", timezone=zone), 400, "does not exist")
    r = booked(client, f"{change}T05:00:00", timezone=zone)
    assert r["booking"]["start"] == at(change, "05:00", zone).isoformat() and r["booking"]["timezone"] == zone


def test_slot_windows_are_checked(client, host, make_type):
    make_type()
    day = local_day()
    r = client.get("/api/v1/public/hana/intro/slots", query_string={
        "from": at(day, "00:00").isoformat(), "to": at(day + timedelta(days=63), "00:00").isoformat()})
    assert r.status_code == 400 and "62 days" in r.json["fields"]["to"]
    r = client.get("/api/v1/public/hana/intro/slots", query_string={"timezone": "Mars/Olympus"})
    assert r.status_code == 400 and "timezone" in r.json["fields"]
    r = client.get("/api/v1/public/hana/intro/slots")
    assert r.status_code == 200 and r.json["timezone"] == "UTC" and len(r.json["slots"]) >= 6 * 16


def datetime_of(text):
    return datetime.fromisoformat(text)


def next_quarter(moment):
    """The first quarter hour (UTC) at or after the moment."""
    base = moment.astimezone(ZoneInfo("UTC")).replace(second=0, microsecond=0)
    return base + timedelta(minutes=-base.minute % 15)


def test_days_without_slots_say_why(client, host, make_type, set_profile):
    weekdays = {d: [{"start": "09:00", "end": "17:00"}] for d in DAYS[:5]}
    set_profile(host, working_hours=weekdays)
    make_type(minimum_notice=7 * 24 * 60, booking_window=20, daily_limit=1)

    def weekday_from(offset):
        day = local_day(offset)
        return day if day.weekday() < 5 else weekday_from(offset + 1)
    soon, booked_day, blocked_day, far = weekday_from(1), weekday_from(9), None, weekday_from(25)
    blocked_day = weekday_from((booked_day - local_day(0)).days + 1)
    saturday = next(local_day(n) for n in range(1, 8) if local_day(n).weekday() == 5)
    booked(client, at(booked_day, "10:00"))
    client.post("/api/v1/bookings", json={"title": "Offsite", "start": at(blocked_day, "09:00").isoformat(),
                                          "end": at(blocked_day, "17:00").isoformat()}, headers=host.auth)
    r = client.get("/api/v1/public/hana/intro/slots", query_string={
        "from": at(local_day(1), "00:00").isoformat(), "to": at(local_day(31), "00:00").isoformat()})
    days = {d["date"]: d["reason"] for d in r.json["days"]}
    assert days[str(soon)] == "too_soon" and days[str(saturday)] == "no_working_hours"
    assert days[str(booked_day)] == "fully_booked" and days[str(blocked_day)] == "no_free_time"
    assert days[str(far)] == "too_far_ahead"
    offered = {s["start"][:10] for s in r.json["slots"]}
    assert offered and not offered & set(days)
    assert set(days) | offered == {str(local_day(n)) for n in range(1, 31)}
