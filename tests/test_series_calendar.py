"""A series as calendars see it: one event (one UID, an RRULE in the series' zone, EXDATEs and
RECURRENCE-ID overrides) from `series_event_data` and `to_ics`, read back by recurring_ical_events
(what our own calendar reading expands with) and by khal, a calendar program. Rendering only:
the series row and its bookings are built here as the repositories give them.

The series: weekly, 10:00-11:00 in London, 12 occurrences from Monday 1 March 2027; the clocks
go forward on 28 March, so the 5th and later are at 09:00 UTC."""

import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from scheduler.calendar import as_now, event_data, people_in, series_event_data, to_ics

LONDON = ZoneInfo("Europe/London")
DOMAIN = "example.com"
UID = "0123456789abcdef0123456789abcdef"
FIRST = datetime(2027, 3, 1, 10, tzinfo=LONDON)
ALICE = {"user_id": 1, "name": "Alice", "email": "alice@example.com", "status": "accepted"}
BOB = {"user_id": 2, "name": "Bob", "email": "bob@example.com", "status": "needs-action"}
KHAL = [sys.executable, "-m", "khal"]


def rule_start(number):
    """Occurrence `number`'s start by the rule (aware datetimes add in wall-clock time), in UTC."""
    return (FIRST + timedelta(weeks=number - 1)).astimezone(timezone.utc)


@pytest.fixture
def series():
    return {"id": 7, "calendar_uid": UID, "timezone": "Europe/London",
            "recurrence": {"freq": "weekly", "interval": 1, "count": 12},
            "starts": [rule_start(number) for number in range(1, 13)]}


@pytest.fixture
def bookings():
    """Occurrence number -> its booking, all 12 booked and confirmed, as the repositories give them."""
    return {number: {"id": 100 + number, "user_id": ALICE["user_id"], "title": "Standup", "location": "Room 1",
                     "start_time": rule_start(number), "end_time": rule_start(number) + timedelta(hours=1),
                     "status": "confirmed", "created_at": datetime(2027, 1, 4, tzinfo=timezone.utc),
                     "updated_at": datetime(2027, 1, 4, tzinfo=timezone.utc), "event_type_id": None,
                     "guest": None, "sequence": 0, "calendar_uid": None, "guest_token_salt": None,
                     "attendees": [ALICE, BOB], "series_id": 7, "occurrence": number}
            for number in range(1, 13)}


def change(booking, **fields):
    """What an update does to a booking: the fields, a later updated_at and the next sequence."""
    booking.update(fields, sequence=booking["sequence"] + 1,
                   updated_at=booking["updated_at"] + timedelta(days=booking["sequence"] + 1))


def move(booking, start):
    change(booking, start_time=start, end_time=start + (booking["end_time"] - booking["start_time"]))


def ics(series, bookings, zone_name="Europe/London", method=None):
    return to_ics([series_event_data(series, list(bookings.values()), DOMAIN)], method=method, zone_name=zone_name)


def instances(ics_bytes):
    """(London start, London end, title) of every instance in 2027, as recurring_ical_events
    expands them."""
    events = recurring_ical_events.of(icalendar.Calendar.from_ical(ics_bytes)).between(date(2027, 1, 1),
                                                                                      date(2028, 1, 1))
    return sorted((event.start.astimezone(LONDON), event.end.astimezone(LONDON), str(event["SUMMARY"]))
                  for event in events)


def london(month, day, hour, minutes=0):
    return datetime(2027, month, day, hour, minutes, tzinfo=LONDON)


def standup(month, day):
    return london(month, day, 10), london(month, day, 11), "Standup"


def weekly(*left_out):
    """The rule's 12 instances, less those on the (month, day)s left out."""
    days = [FIRST + timedelta(weeks=n) for n in range(12)]
    return [standup(day.month, day.day) for day in days if (day.month, day.day) not in left_out]


def vevents(ics_bytes):
    return icalendar.Calendar.from_ical(ics_bytes).walk("VEVENT")


def test_a_weekly_series_across_the_clock_change_is_one_event_at_10_local(series, bookings):
    written = ics(series, bookings)
    [event] = vevents(written)
    assert event["UID"] == f"{UID}@{DOMAIN}"
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=12;INTERVAL=1"
    assert b"DTSTART;TZID=Europe/London:20270301T100000" in written
    assert "EXDATE" not in event and "RECURRENCE-ID" not in event
    found = instances(written)
    assert found == weekly()
    assert {start.time().isoformat() for start, _, _ in found} == {"10:00:00"}
    assert {start.utcoffset() for start, _, _ in found} == {timedelta(0), timedelta(hours=1)}


def test_cancelled_and_never_booked_occurrences_are_exdates(series, bookings):
    change(bookings[3], status="cancelled")
    del bookings[6]
    written = ics(series, bookings)
    assert b"EXDATE;TZID=Europe/London:20270315T100000,20270405T100000" in written
    assert instances(written) == weekly((3, 15), (4, 5))


def test_a_cancelled_first_occurrence_keeps_dtstart_and_excludes_it(series, bookings):
    """DTSTART stays the rule's first start (it anchors the RRULE's COUNT and every RECURRENCE-ID),
    excluded by an EXDATE of its own; the series takes its title from the first confirmed one."""
    change(bookings[1], status="cancelled", title="Kick-off")
    written = ics(series, bookings)
    assert b"DTSTART;TZID=Europe/London:20270301T100000" in written
    assert b"EXDATE;TZID=Europe/London:20270301T100000" in written
    assert instances(written) == weekly((3, 1))


def test_a_moved_occurrence_is_at_its_new_time_and_not_at_its_rules(series, bookings):
    move(bookings[4], london(3, 23, 14, 30))
    written = ics(series, bookings)
    master, moved = vevents(written)
    assert moved["UID"] == master["UID"]
    assert b"RECURRENCE-ID;TZID=Europe/London:20270322T100000" in written
    assert moved["SEQUENCE"] == 1 and master["SEQUENCE"] == 1
    assert [person.params["CN"] for person in moved["ATTENDEE"]] == ["Alice", "Bob"]
    assert instances(written) == sorted(weekly((3, 22)) + [(london(3, 23, 14, 30), london(3, 23, 15, 30), "Standup")])


def test_a_renamed_occurrence_has_its_own_summary_and_place(series, bookings):
    change(bookings[6], title="Planning", location="Room 2")
    written = ics(series, bookings)
    [moved] = [event for event in vevents(written) if "RECURRENCE-ID" in event]
    assert (moved["SUMMARY"], moved["LOCATION"]) == ("Planning", "Room 2")
    assert instances(written) == sorted(weekly((4, 5)) + [(london(4, 5, 10), london(4, 5, 11), "Planning")])


def test_a_series_with_no_confirmed_occurrence_is_cancelled(series, bookings):
    for booking in bookings.values():
        change(booking, status="cancelled")
    data = series_event_data(series, list(bookings.values()), DOMAIN)
    assert data["status"] == "CANCELLED"
    assert len(data["series"]["exdates"]) == 12
    [event] = vevents(ics(series, bookings, method="CANCEL"))
    assert event["STATUS"] == "CANCELLED"


def test_under_method_cancel_every_component_is_cancelled(series, bookings):
    move(bookings[2], london(3, 9, 16))
    written = ics(series, bookings, method="CANCEL")
    assert [event["STATUS"] for event in vevents(written)] == ["CANCELLED", "CANCELLED"]


@pytest.mark.parametrize("zone_name", ["UTC", "America/New_York"])
def test_the_readers_zone_changes_no_instant(series, bookings, zone_name):
    """A series is written in its own zone whatever the reader's, with that zone's VTIMEZONE
    over the whole series (a UTC feed writes no VTIMEZONE for its own times)."""
    move(bookings[4], london(3, 23, 14, 30))
    written = ics(series, bookings, zone_name=zone_name)
    assert instances(written) == instances(ics(series, bookings))
    [zone] = icalendar.Calendar.from_ical(written).timezones
    assert zone.tz_name == "Europe/London"
    assert "2027-02-28 to 2027-05-18" in str(zone["COMMENT"])


def test_a_series_beside_a_single_booking_in_a_readers_feed(series, bookings):
    single = bookings[12] | {"id": 200, "series_id": None, "occurrence": None, "calendar_uid": "f" * 32,
                             "start_time": datetime(2027, 6, 1, 12, tzinfo=timezone.utc),
                             "end_time": datetime(2027, 6, 1, 13, tzinfo=timezone.utc)}
    written = to_ics([series_event_data(series, list(bookings.values()), DOMAIN), event_data(single, DOMAIN)],
                     zone_name="America/New_York")
    assert b"DTSTART;TZID=America/New_York:20270601T080000" in written
    assert sorted(zone.tz_name for zone in icalendar.Calendar.from_ical(written).timezones) == [
        "America/New_York", "Europe/London"]


def test_sequence_grows_with_a_change_to_any_occurrence(series, bookings):
    before = series_event_data(series, list(bookings.values()), DOMAIN)
    change(bookings[9], location="Room 3")
    after = series_event_data(series, list(bookings.values()), DOMAIN)
    assert (before["sequence"], after["sequence"]) == (0, 1)
    assert after["updated"] == bookings[9]["updated_at"].isoformat()
    assert after["series"]["overrides"] == [{
        "recurrence_id": rule_start(9).isoformat(), "start": rule_start(9).isoformat(),
        "end": (rule_start(9) + timedelta(hours=1)).isoformat(), "title": "Standup", "location": "Room 3",
        "sequence": 1, "updated": bookings[9]["updated_at"].isoformat()}]


def test_the_event_data_is_json_with_its_people_as_emails_use_them(series, bookings):
    data = series_event_data(series, list(bookings.values()), DOMAIN)
    assert json.loads(json.dumps(data)) == data
    assert people_in(data) == {1, 2}
    now = as_now(data, {2: {"name": "Robert", "email": "robert@example.com"}})
    assert now["series"] == data["series"]
    assert b"CN=Robert" in to_ics([now], method="REQUEST")


@pytest.fixture
def khal_list(tmp_path):
    """What khal lists over 2027 (London time) once it has imported the calendar given, one line
    per instance. Its configuration, calendar (a vdir) and database are in tmp_path, and HOME and
    the XDG directories too, so nothing of the user's is read or written."""
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "khal.conf"
    config.write_text(f"""
[calendars]
[[series]]
path = {tmp_path / "vdir"}
type = calendar

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = Europe/London
default_timezone = Europe/London

[sqlite]
path = {tmp_path / "khal.db"}
""")
    (tmp_path / "vdir").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CACHE_HOME": str(home / ".cache"),
           "LANG": "C.UTF-8", "TZ": "UTC"}

    def khal(*args):
        return subprocess.run([*KHAL, "-c", str(config), "--no-color", *args], env=env, capture_output=True,
                              timeout=30, check=True).stdout.decode()

    def listed(ics_bytes):
        (tmp_path / "import.ics").write_bytes(ics_bytes)
        khal("import", "--batch", "-a", "series", str(tmp_path / "import.ics"))
        return khal("list", "--format", "{start}-{end} {title}", "--day-format", "", "2027-01-01",
                    "2027-12-31").splitlines()
    return listed


@pytest.mark.parametrize("zone_name", ["UTC", "America/New_York"])
def test_khal_lists_the_series_as_written(khal_list, series, bookings, zone_name):
    change(bookings[3], status="cancelled")
    del bookings[6]
    move(bookings[4], london(3, 23, 14, 30))
    change(bookings[9], title="Planning")
    assert khal_list(ics(series, bookings, zone_name=zone_name)) == [
        "2027-03-01 10:00-2027-03-01 11:00 Standup",
        "2027-03-08 10:00-2027-03-08 11:00 Standup",
        "2027-03-23 14:30-2027-03-23 15:30 Standup",
        "2027-03-29 10:00-2027-03-29 11:00 Standup",
        "2027-04-12 10:00-2027-04-12 11:00 Standup",
        "2027-04-19 10:00-2027-04-19 11:00 Standup",
        "2027-04-26 10:00-2027-04-26 11:00 Planning",
        "2027-05-03 10:00-2027-05-03 11:00 Standup",
        "2027-05-10 10:00-2027-05-10 11:00 Standup",
        "2027-05-17 10:00-2027-05-17 11:00 Standup",
    ]
