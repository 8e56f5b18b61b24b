"""Busy times read from iCalendar, exactly: each test connects a feed served on this machine and
compares the busy intervals stored (UTC) with what the calendar means. The service's clock is
moved to 1 January of YEAR (a year with 2031's weekdays and DST days: Europe switches on 30
March, the US on 9 March), so every date below lies within the horizon."""

from datetime import datetime, timezone

import pytest

from helpers import YEAR

CALENDARS = "/api/v1/calendars"


def vcalendar(*components):
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tests//EN", *components, "END:VCALENDAR", ""]
    return "\r\n".join(lines).encode()


def vevent(uid, *lines):
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{YEAR}0101T000000Z", *lines, "END:VEVENT"])


def utc(text):
    """'MMDDTHH:MM' in YEAR -> ISO 8601 in UTC, as the database gives it back."""
    month, day, hours, minutes = int(text[:2]), int(text[2:4]), int(text[5:7]), int(text[8:10])
    return datetime(YEAR, month, day, hours, minutes, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def new_year(travel):
    from scheduler import clock
    travel(datetime(YEAR, 1, 1, tzinfo=timezone.utc) - clock.now())


@pytest.fixture
def busy_of(client, feeds, db):
    """Connects a feed of the given components for the user; returns its stored busy times."""
    def read(user, *components):
        url = feeds.serve("/cal.ics", vcalendar(*components))
        r = client.post(CALENDARS, json={"kind": "ics", "url": url}, headers=user.auth)
        assert r.status_code == 201, r.json
        with db.cursor() as cur:
            cur.execute("SELECT start_time, end_time FROM calendar_busy WHERE calendar_id = %s ORDER BY start_time",
                        (r.json["calendar"]["id"],))
            return cur.fetchall()
    return read


def test_a_weekly_series_with_an_rdate_an_exdate_a_moved_and_a_cancelled_instance(busy_of, alice):
    busy = busy_of(alice, vevent(
        "weekly", f"DTSTART;TZID=Europe/Berlin:{YEAR}0106T090000", f"DTEND;TZID=Europe/Berlin:{YEAR}0106T100000",
        "RRULE:FREQ=WEEKLY;COUNT=5", f"EXDATE;TZID=Europe/Berlin:{YEAR}0113T090000",
        f"RDATE;TZID=Europe/Berlin:{YEAR}0108T120000"),
        vevent("weekly", f"RECURRENCE-ID;TZID=Europe/Berlin:{YEAR}0120T090000",
               f"DTSTART;TZID=Europe/Berlin:{YEAR}0121T140000", f"DTEND;TZID=Europe/Berlin:{YEAR}0121T150000"),
        vevent("weekly", f"RECURRENCE-ID;TZID=Europe/Berlin:{YEAR}0127T090000", "STATUS:CANCELLED",
               f"DTSTART;TZID=Europe/Berlin:{YEAR}0127T090000", f"DTEND;TZID=Europe/Berlin:{YEAR}0127T100000"))
    assert busy == [(utc("0106T08:00"), utc("0106T09:00")), (utc("0108T11:00"), utc("0108T12:00")),
                    (utc("0121T13:00"), utc("0121T14:00")), (utc("0203T08:00"), utc("0203T09:00"))]


def test_an_all_day_event_is_the_owners_whole_local_days(busy_of, alice, set_profile):
    set_profile(alice, timezone="America/New_York")
    busy = busy_of(alice, vevent("away", f"DTSTART;VALUE=DATE:{YEAR}0110", f"DTEND;VALUE=DATE:{YEAR}0112"),
                   vevent("one-day", f"DTSTART;VALUE=DATE:{YEAR}0115"))
    assert busy == [(utc("0110T05:00"), utc("0112T05:00")), (utc("0115T05:00"), utc("0116T05:00"))]


def test_cancelled_transparent_and_declined_events_do_not_block(busy_of, alice):
    when = [f"DTSTART:{YEAR}0110T090000Z", f"DTEND:{YEAR}0110T100000Z"]
    busy = busy_of(alice, vevent("cancelled", "STATUS:CANCELLED", *when), vevent("free", "TRANSP:TRANSPARENT", *when),
                   vevent("declined", *when, f"ATTENDEE;PARTSTAT=DECLINED:mailto:{alice.email.upper()}"),
                   vevent("accepted", f"DTSTART:{YEAR}0111T090000Z", f"DTEND:{YEAR}0111T100000Z",
                          f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{alice.email}",
                          "ATTENDEE;PARTSTAT=DECLINED:mailto:someone-else@example.com"))
    assert busy == [(utc("0111T09:00"), utc("0111T10:00"))]


def test_zones_named_defined_and_windows_and_floating_times(busy_of, alice, set_profile):
    set_profile(alice, timezone="Asia/Kolkata")
    busy = busy_of(
        alice,
        "\r\n".join(["BEGIN:VTIMEZONE", "TZID:Custom Zone", "BEGIN:STANDARD", "DTSTART:19701025T030000",
                     "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "TZOFFSETFROM:+0300", "TZOFFSETTO:+0200",
                     "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:19700329T020000",
                     "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0300",
                     "END:DAYLIGHT", "END:VTIMEZONE"]),
        vevent("iana", f"DTSTART;TZID=America/Los_Angeles:{YEAR}0110T090000", "DURATION:PT1H"),
        vevent("defined", f"DTSTART;TZID=Custom Zone:{YEAR}0111T090000", f"DTEND;TZID=Custom Zone:{YEAR}0111T100000"),
        vevent("windows", f"DTSTART;TZID=W. Europe Standard Time:{YEAR}0112T090000",
               f"DTEND;TZID=W. Europe Standard Time:{YEAR}0112T100000"),
        vevent("floating", f"DTSTART:{YEAR}0113T090000", f"DTEND:{YEAR}0113T100000"))
    assert busy == [(utc("0110T17:00"), utc("0110T18:00")), (utc("0111T07:00"), utc("0111T08:00")),
                    (utc("0112T08:00"), utc("0112T09:00")), (utc("0113T03:30"), utc("0113T04:30"))]


def test_a_weekly_event_keeps_its_local_time_across_a_dst_change(busy_of, alice):
    busy = busy_of(alice, vevent("standup", f"DTSTART;TZID=Europe/Berlin:{YEAR}0324T090000",
                                 f"DTEND;TZID=Europe/Berlin:{YEAR}0324T093000", "RRULE:FREQ=WEEKLY;COUNT=2"),
                   vevent("overnight", f"DTSTART;TZID=America/New_York:{YEAR}0308T220000",
                          f"DTEND;TZID=America/New_York:{YEAR}0309T060000"))
    # New York's night of 8-9 March is an hour short: 22:00 EST to 06:00 EDT is 7 hours.
    assert busy == [(utc("0309T03:00"), utc("0309T10:00")),
                    (utc("0324T08:00"), utc("0324T08:30")), (utc("0331T07:00"), utc("0331T07:30"))]


def test_our_own_bookings_are_not_read_back(busy_of, alice):
    when = [f"DTSTART:{YEAR}0110T090000Z", f"DTEND:{YEAR}0110T100000Z"]
    busy = busy_of(alice, vevent("0123456789abcdef0123456789abcdef@scheduler.test", *when),
                   vevent("booking-12@SCHEDULER.TEST", *when),
                   vevent("team-meeting@scheduler.test", f"DTSTART:{YEAR}0111T090000Z", f"DTEND:{YEAR}0111T100000Z"))
    assert busy == [(utc("0111T09:00"), utc("0111T10:00"))]


def test_events_outside_the_horizon_are_not_kept(busy_of, alice):
    busy = busy_of(alice, vevent("past", f"DTSTART:{YEAR - 1}1230T090000Z", f"DTEND:{YEAR - 1}1230T100000Z"),
                   vevent("daily", f"DTSTART:{YEAR - 1}1231T090000Z", f"DTEND:{YEAR - 1}1231T100000Z",
                          "RRULE:FREQ=DAILY"))
    # From a day before 1 January to 366 days after it.
    assert len(busy) == 367
    assert busy[0] == (datetime(YEAR - 1, 12, 31, 9, tzinfo=timezone.utc), datetime(YEAR - 1, 12, 31, 10, tzinfo=timezone.utc))
    assert busy[-1] == (datetime(YEAR + 1, 1, 1, 9, tzinfo=timezone.utc), datetime(YEAR + 1, 1, 1, 10, tzinfo=timezone.utc))
