"""The tests' CalDAV server itself (tests/caldav_server.py): what other tests rely on it for."""

import base64

EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//tests//EN\r
BEGIN:VEVENT\r
UID:one@tests\r
DTSTAMP:20310101T000000Z\r
DTSTART:20310101T100000Z\r
DTEND:20310101T110000Z\r
SUMMARY:Planning\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_calendar_holds_what_is_put_in_it_across_a_restart(radicale):
    calendar = radicale.make_calendar("work")
    status, _, _ = radicale.request("PUT", calendar + "one.ics", EVENT, {"Content-Type": "text/calendar"})
    assert status == 201
    radicale.stop()
    radicale.start()
    (url, event), = radicale.events(calendar).items()
    assert url == calendar + "one.ics"
    assert (str(event["UID"]), str(event["SUMMARY"])) == ("one@tests", "Planning")


def test_a_wrong_password_is_refused(radicale):
    calendar = radicale.make_calendar()
    wrong = base64.b64encode(f"{radicale.user}:not-the-password".encode()).decode()
    status, _, _ = radicale.request("PROPFIND", calendar, headers={"Depth": "0", "Authorization": f"Basic {wrong}"})
    assert status == 401
