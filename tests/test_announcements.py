"""Who is told what, checked without HTTP: scheduler/announcements.py's builders."""

from datetime import datetime, timedelta, timezone

from scheduler import announcements, clock
from scheduler.config import Settings

ORIGIN = announcements.Origin(Settings(email_from="Scheduler <bookings@example.test>"))

# 09:00 UTC on a day next June: summer time in Paris and New York.
START = datetime(clock.now().year + 1, 6, 3, 9, 0, tzinfo=timezone.utc)


def booking(**changes):
    return {"id": 7, "user_id": 1, "title": "Review", "start_time": START, "end_time": START + timedelta(hours=1),
            "status": "confirmed", "sequence": 0, "updated_at": START - timedelta(days=1), "location": None, "guest": None,
            "calendar_uid": None, "guest_token_salt": None} | changes


def person(user_id, name, zone="UTC", status="accepted", reminders=(1440, 60)):
    return {"user_id": user_id, "name": name, "email": f"{name.lower()}@example.com", "timezone": zone,
            "status": status, "reminders": list(reminders)}


OWNER, GUEST = person(1, "Ada", "Europe/Paris"), person(2, "Bo", "America/New_York", status="needs-action")


def test_created_confirms_to_the_owner_and_invites_others_each_in_their_zone():
    messages = announcements.booking_messages(ORIGIN, "created", booking(), [OWNER, GUEST])
    assert [(n["user_id"], n["kind"]) for n in messages.notes] == [(1, "BOOKING_CONFIRMED"), (2, "BOOKING_INVITATION")]
    assert "11:00 CEST" in messages.notes[0]["message"]
    assert messages.notes[1]["message"].startswith("Ada invited you, ") and "05:00 EDT" in messages.notes[1]["message"]
    assert [e["template"] for e in messages.emails] == ["BOOKING_CONFIRMATION", "BOOKING_INVITATION"]
    assert {e["payload"]["ics"]["method"] for e in messages.emails} == {"REQUEST"}
    assert messages.emails[0]["payload"]["ics"]["event"]["uid"] == "booking-7@example.test"  # made before 017


def test_a_booking_with_a_random_uid_is_known_by_it():
    messages = announcements.booking_messages(ORIGIN, "created", booking(calendar_uid="5f0c9d1e"), [OWNER, GUEST])
    assert {e["payload"]["ics"]["event"]["uid"] for e in messages.emails} == {"5f0c9d1e@example.test"}


def test_cancelled_sends_cancel_and_declined_people_hear_nothing():
    declined = GUEST | {"status": "declined"}
    messages = announcements.booking_messages(ORIGIN, "cancelled", booking(status="cancelled"), [OWNER, declined])
    assert [e["to"] for e in messages.emails] == [OWNER["email"]]
    assert messages.emails[0]["payload"]["ics"]["method"] == "CANCEL"


def test_reminders_only_for_times_still_ahead():
    now = START - timedelta(hours=3)
    emails = announcements.reminder_emails(ORIGIN, booking(), [OWNER], now).emails
    assert [(e["reminder_minutes"], e["send_after"]) for e in emails] == [(60, START - timedelta(hours=1))]
