"""Shared set-up for the booking-link tests: a host with a username and working hours every
day, event types, and times counted from the test clock."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scheduler import clock

TYPES = "/api/v1/event-types"
PUBLIC = "/api/v1/public"
GUEST = "/api/v1/guest-bookings"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = {day: [{"start": "09:00", "end": "17:00"}] for day in DAYS}


def local_day(offset=10, zone="UTC"):
    """The local date `offset` days after the test clock's today in the zone."""
    return clock.now().astimezone(ZoneInfo(zone)).date() + timedelta(days=offset)


def at(day, hhmm, zone="UTC"):
    return datetime.combine(day, time.fromisoformat(hhmm), ZoneInfo(zone))


def hours_in(day, zone):
    """How long the local date is in the zone: 24, or 23 / 25 on a DST change."""
    length = at(day + timedelta(days=1), "00:00", zone).astimezone(timezone.utc) - at(day, "00:00", zone)
    return length // timedelta(hours=1)


def next_transition(zone, nth=1, after_days=2):
    """The nth local date (at least `after_days` ahead) whose length is not 24 hours in the zone:
    the next two are a spring and an autumn change, within seven and a half months."""
    day = local_day(after_days, zone)
    for _ in range(400):
        if hours_in(day, zone) != 24:
            nth -= 1
            if nth == 0:
                return day
        day += timedelta(days=1)
    raise AssertionError(f"{zone} has no DST change within 400 days")


@pytest.fixture
def host(register, set_profile):
    user = register("Hana")
    set_profile(user, username="hana", working_hours=EVERY_DAY)
    return user


@pytest.fixture
def make_type(client, host):
    def make(owner=None, **fields):
        body = {"slug": "intro", "title": "Intro call", "duration": 30} | fields
        r = client.post(TYPES, json=body, headers=(owner or host).auth)
        assert r.status_code == 201, r.json
        return r.json["event_type"]
    return make


def slot_starts(client, start, end, zone="UTC", link="hana/intro"):
    r = client.get(f"{PUBLIC}/{link}/slots", query_string={"from": start.isoformat(), "to": end.isoformat(),
                                                          "timezone": zone})
    assert r.status_code == 200, r.json
    return [s["start"] for s in r.json["slots"]]


def book(client, start, link="hana/intro", name="Gus Guest", email="gus@example.com", **extra):
    body = {"start": start if isinstance(start, str) else start.isoformat(), "name": name, "email": email} | extra
    return client.post(f"{PUBLIC}/{link}/bookings", json=body)


def booked(client, start, **extra):
    r = book(client, start, **extra)
    assert r.status_code == 201, r.json
    return r.json
