"""Busy times from a host's own calendar where availability is read and written: the slot
list misses exactly the instances (a weekly series with an exception date and a moved
instance, an all-day event, zones other than the host's), a guest booking into one is a 409
decided from the stored busy times, invitations say the person is busy, the host's own
bookings are not blocked, and /users/me/busy shows them by calendar. How calendars are read
and stored is in test_calendar_expansion.py, test_calendars_api.py and test_caldav.py."""

from datetime import timedelta, timezone

from tests.booking_links import at, book, host, local_day, make_type  # noqa: F401

CALENDARS = "/api/v1/calendars"


def monday_after(days):
    day = local_day(days)
    return day + timedelta(days=(0 - day.weekday()) % 7)


def stamp(day, hhmm):
    return f"{day:%Y%m%d}T{hhmm.replace(':', '')}00"


def school_run_feed(first):
    """Weekly 08:00-09:00 in New York on Mondays for four weeks (09:00 is 13:00 or 14:00 in
    UTC), without the second, the third moved to Tuesday 10:00; a Berlin dentist's visit on
    the first Wednesday 16:00-17:00; an all-day event on the first Thursday; a transparent
    event and a cancelled one on the first Friday at 10:00 and 11:00 (UTC)."""
    second, third = first + timedelta(days=7), first + timedelta(days=14)
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tests//EN",
        "BEGIN:VEVENT", "UID:school-run", "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=America/New_York:{stamp(first, '08:00')}", f"DTEND;TZID=America/New_York:{stamp(first, '09:00')}",
        "RRULE:FREQ=WEEKLY;COUNT=4", f"EXDATE;TZID=America/New_York:{stamp(second, '08:00')}", "END:VEVENT",
        "BEGIN:VEVENT", "UID:school-run", "DTSTAMP:20260101T000000Z",
        f"RECURRENCE-ID;TZID=America/New_York:{stamp(third, '08:00')}",
        f"DTSTART;TZID=America/New_York:{stamp(third + timedelta(days=1), '10:00')}",
        f"DTEND;TZID=America/New_York:{stamp(third + timedelta(days=1), '11:00')}", "END:VEVENT",
        "BEGIN:VEVENT", "UID:dentist", "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{stamp(first + timedelta(days=2), '16:00')}",
        f"DTEND;TZID=Europe/Berlin:{stamp(first + timedelta(days=2), '17:00')}", "END:VEVENT",
        "BEGIN:VEVENT", "UID:away-day", "DTSTAMP:20260101T000000Z",
        f"DTSTART;VALUE=DATE:{first + timedelta(days=3):%Y%m%d}", f"DTEND;VALUE=DATE:{first + timedelta(days=4):%Y%m%d}",
        "END:VEVENT",
        "BEGIN:VEVENT", "UID:free", "DTSTAMP:20260101T000000Z", "TRANSP:TRANSPARENT",
        f"DTSTART:{stamp(first + timedelta(days=4), '10:00')}Z", f"DTEND:{stamp(first + timedelta(days=4), '11:00')}Z",
        "END:VEVENT",
        "BEGIN:VEVENT", "UID:off", "DTSTAMP:20260101T000000Z", "STATUS:CANCELLED",
        f"DTSTART:{stamp(first + timedelta(days=4), '11:00')}Z", f"DTEND:{stamp(first + timedelta(days=4), '12:00')}Z",
        "END:VEVENT",
        "END:VCALENDAR", ""]
    return "\r\n".join(lines).encode()


def utc_hour(moment):
    return f"{moment.astimezone(timezone.utc).hour:02}:00"


def hours_offered(client, day):
    r = client.get("/api/v1/public/hana/intro/slots", query_string={
        "from": at(day, "00:00").isoformat(), "to": at(day + timedelta(days=1), "00:00").isoformat()})
    assert r.status_code == 200, r.json
    return [s["start"][11:16] for s in r.json["slots"]], r.json["days"]


def test_a_hosts_calendar_blocks_exactly_its_instances(client, host, make_type, feeds, register, set_profile, org_of):
    make_type(duration=60, booking_window=90)
    first = monday_after(7)
    url = feeds.serve("/family.ics", school_run_feed(first))
    r = client.post(CALENDARS, json={"kind": "ics", "url": url, "name": "Family"}, headers=host.auth)
    assert r.status_code == 201 and r.json["calendar"]["status"] == "ok", r.json
    calendar_id = r.json["calendar"]["id"]
    all_day = [f"{h:02}:00" for h in range(9, 17)]
    school = utc_hour(at(first, "08:00", "America/New_York"))

    def without(*taken):
        return [h for h in all_day if h not in taken]

    assert hours_offered(client, first)[0] == without(school)
    assert hours_offered(client, first + timedelta(days=7))[0] == all_day  # the exception date
    assert hours_offered(client, first + timedelta(days=14))[0] == all_day  # moved away ...
    moved = utc_hour(at(first + timedelta(days=15), "10:00", "America/New_York"))
    assert hours_offered(client, first + timedelta(days=15))[0] == without(moved)
    assert hours_offered(client, first + timedelta(days=21))[0] == without(
        utc_hour(at(first + timedelta(days=21), "08:00", "America/New_York")))
    dentist = at(first + timedelta(days=2), "16:00", "Europe/Berlin").astimezone(timezone.utc)
    assert hours_offered(client, first + timedelta(days=2))[0] == without(utc_hour(dentist))
    slots, days = hours_offered(client, first + timedelta(days=3))
    assert slots == [] and days == [{"date": str(first + timedelta(days=3)), "reason": "no_free_time"}]
    assert hours_offered(client, first + timedelta(days=4))[0] == all_day  # transparent and cancelled

    # A guest's start in an instance: 409 from the stored busy times, saying no more than that.
    r = book(client, at(first, school))
    assert r.status_code == 409 and r.json["fields"]["start"] == "is a time the host is not available", r.json
    assert book(client, at(first + timedelta(days=7), school)).status_code == 201

    # An invitation into it names the host as busy; the host's own booking is theirs to make.
    colleague = register("Cleo")
    org_of(colleague, host)
    invite = client.post("/api/v1/bookings", headers=colleague.auth, json={
        "title": "Sync", "start": at(first, school).isoformat(), "end": (at(first, school) + timedelta(minutes=30)).isoformat(),
        "attendees": [host.id]})
    assert invite.status_code == 409 and invite.json["conflicts"] == [
        {"user_id": host.id, "name": "Hana", "email": host.email, "reason": "busy"}], invite.json
    own = client.post("/api/v1/bookings", headers=host.auth, json={
        "title": "Call", "start": at(first, school).isoformat(), "end": (at(first, school) + timedelta(minutes=30)).isoformat()})
    assert own.status_code == 201, own.json

    # /users/me/busy shows them by calendar; deleting the calendar frees the time at once.
    busy = client.get("/api/v1/users/me/busy", headers=host.auth, query_string={
        "from": at(first + timedelta(days=2), "00:00").isoformat(), "to": at(first + timedelta(days=3), "00:00").isoformat()})
    assert busy.json["busy"] == [{"start": dentist.isoformat(), "end": (dentist + timedelta(hours=1)).isoformat(),
                                  "source": "calendar", "calendar_id": calendar_id}]
    assert client.delete(f"{CALENDARS}/{calendar_id}", headers=host.auth).status_code in (200, 204)
    assert hours_offered(client, first + timedelta(days=2))[0] == all_day
