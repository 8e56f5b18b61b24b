"""iCalendar invitations, downloads and feeds, parsed back with the icalendar library."""

import json
import re
from datetime import timezone

import pytest
from icalendar import Calendar

from helpers import YEAR
from scheduler import jobs

BOOKINGS = "/api/v1/bookings"


def invites(mailbox, to):
    """(METHOD, VEVENT) of each calendar attachment sent to `to`, in order."""
    found = []
    for message in mailbox.received():
        if message["To"] != to:
            continue
        for part in message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                calendar = Calendar.from_ical(part.get_content())
                found.append((str(calendar["METHOD"]), calendar.walk("VEVENT")[0]))
    return found


@pytest.fixture
def meeting(client, alice, bob, org_of, set_profile):
    org_of(alice, bob)
    set_profile(bob, timezone="America/New_York")
    r = client.post(BOOKINGS, json={"title": "Planning", "start": f"{YEAR}-07-01T14:00:00Z", "end": f"{YEAR}-07-01T15:00:00Z",
                                    "attendees": [bob.email]}, headers=alice.auth)
    return r.json["booking"]


def test_invitation_update_and_cancel_share_a_uid_with_growing_sequence(client, alice, bob, meeting, mailbox, worker):
    client.patch(f"{BOOKINGS}/{meeting['id']}", json={"start": f"{YEAR}-07-01T15:00:00Z", "end": f"{YEAR}-07-01T16:00:00Z"},
                 headers=alice.auth)
    client.delete(f"{BOOKINGS}/{meeting['id']}", headers=alice.auth)
    worker()
    for person in (alice, bob):
        sent = invites(mailbox, person.email)
        assert [method for method, _ in sent] == ["REQUEST", "REQUEST", "CANCEL"]
        assert len({str(event["UID"]) for _, event in sent}) == 1
        sequences = [int(event["SEQUENCE"]) for _, event in sent]
        assert sequences == sorted(sequences) and len(set(sequences)) == 3
        assert str(sent[-1][1]["STATUS"]) == "CANCELLED"
        moved = sent[1][1].decoded("DTSTART")
        assert moved.astimezone(timezone.utc).isoformat() == f"{YEAR}-07-01T15:00:00+00:00"


def test_invitation_names_organizer_and_attendees(alice, bob, meeting, mailbox, worker):
    worker()
    [(method, event)] = invites(mailbox, bob.email)
    assert method == "REQUEST" and str(event["SUMMARY"]) == "Planning"
    assert str(event["ORGANIZER"]).lower() == f"mailto:{alice.email}"
    attendees = {str(a).lower(): a.params["PARTSTAT"] for a in event["ATTENDEE"]}
    assert attendees == {f"mailto:{alice.email}": "ACCEPTED", f"mailto:{bob.email}": "NEEDS-ACTION"}


def test_an_invitation_shows_people_as_they_are_when_it_is_sent(alice, bob, meeting, register, set_profile, mailbox,
                                                                worker):
    """Both change their address (and Alice her name) before the worker sends, and someone else
    registers Alice's old address: answers to the invitation must not go to them."""
    old_address = alice.email
    set_profile(alice, email="alice-moved@example.com", name="Alicia")
    set_profile(bob, email="bob-moved@example.com")
    register("Mallory", email=old_address)
    worker()
    [(method, event)] = invites(mailbox, "bob-moved@example.com")
    assert method == "REQUEST" and str(event["SUMMARY"]) == "Planning"
    assert str(event["ORGANIZER"]).lower() == "mailto:alice-moved@example.com"
    assert event["ORGANIZER"].params["CN"] == "Alicia"
    attendees = {str(a).lower(): a.params["CN"] for a in event["ATTENDEE"]}
    assert attendees == {"mailto:alice-moved@example.com": "Alicia", "mailto:bob-moved@example.com": "Bob"}
    [invitation] = [m for m in mailbox.received() if m["To"] == "bob-moved@example.com"
                    and m["Subject"] == "Invitation: Planning"]
    assert "Alicia invited you to a booking." in invitation.get_body(("plain",)).get_content()
    assert [m["Subject"] for m in mailbox.received() if m["To"] == old_address] == ["Welcome to Scheduler, Mallory"]
    assert not [m for m in mailbox.received() if old_address in m.as_string() and m["To"] != old_address]


def test_a_cancellation_sent_after_an_address_change_cancels_the_event_it_was_about(client, alice, bob, meeting,
                                                                                    set_profile, mailbox, worker):
    worker()
    [(_, invited)] = invites(mailbox, bob.email)
    mailbox.clear()
    assert client.delete(f"{BOOKINGS}/{meeting['id']}", headers=alice.auth).status_code == 200
    set_profile(alice, email="alice-moved@example.com")
    worker()
    [(method, event)] = invites(mailbox, bob.email)
    assert method == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == str(invited["UID"]) and int(event["SEQUENCE"]) > int(invited["SEQUENCE"])
    assert event.decoded("DTSTART") == invited.decoded("DTSTART")
    assert str(event["ORGANIZER"]).lower() == "mailto:alice-moved@example.com"


def test_an_invitation_queued_before_people_carried_ids_is_sent_as_written(client, alice, bob, meeting, db, redis_conn,
                                                                           mailbox, worker):
    """An outbox row in the form the previous release wrote (no ids in its calendar data, no
    `names`) still goes out after a deploy: to the person's address now, the rest as written."""
    worker()
    mailbox.clear()
    event = {"uid": f"booking-{meeting['id']}@scheduler.test", "sequence": 0, "title": "Planning", "location": None,
             "start": meeting["start_time"], "end": meeting["end_time"], "status": "CONFIRMED",
             "updated": meeting["updated_at"], "organizer": {"name": "Alice", "email": alice.email},
             "attendees": [{"name": "Alice", "email": alice.email, "status": "accepted"},
                           {"name": "Bob", "email": bob.email, "status": "needs-action"}]}
    payload = {"name": "Bob", "booking_id": meeting["id"], "timezone": "America/New_York", "title": "Planning",
               "start": meeting["start_time"], "end": meeting["end_time"], "organizer": "Alice",
               "ics": {"method": "REQUEST", "event": event}}
    with db.cursor() as cur:
        cur.execute("INSERT INTO email_outbox (recipient, template, payload, user_id, booking_id)"
                    " VALUES (%s, 'BOOKING_INVITATION', %s, %s, %s)",
                    (bob.email, json.dumps(payload), bob.id, meeting["id"]))
    jobs.drain_emails(redis_conn)
    worker()
    [(method, sent)] = invites(mailbox, bob.email)
    assert method == "REQUEST" and str(sent["ORGANIZER"]).lower() == f"mailto:{alice.email}"
    assert {str(a).lower() for a in sent["ATTENDEE"]} == {f"mailto:{alice.email}", f"mailto:{bob.email}"}


def test_emails_show_times_in_the_recipients_zone(alice, bob, meeting, mailbox, worker):
    worker()
    texts = {m["To"]: m.get_body(("plain",)).get_content() for m in mailbox.received() if "Planning" in m["Subject"]}
    assert f"Start: Tue, 1 Jul {YEAR}, 10:00 EDT (America/New_York)" in texts[bob.email]
    assert f"Start: Tue, 1 Jul {YEAR}, 14:00 UTC (UTC)" in texts[alice.email]


def test_single_booking_download(client, alice, bob, register, meeting):
    r = client.get(f"{BOOKINGS}/{meeting['id']}/ics", headers=bob.auth)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    event = Calendar.from_ical(r.data).walk("VEVENT")[0]
    assert re.fullmatch(r"[0-9a-f]{32}@.+", str(event["UID"]))  # opaque: says nothing of how many bookings exist
    assert client.get(f"{BOOKINGS}/{meeting['id']}/ics", headers=register("Eve").auth).status_code == 404


def uids(client, user, booking_id, mailbox):
    """The booking's UID in its download, in the user's feed and in each invitation they got."""
    download = Calendar.from_ical(client.get(f"{BOOKINGS}/{booking_id}/ics", headers=user.auth).data)
    feed_url = client.post("/api/v1/users/me/calendar-feed", headers=user.auth).json["url"]
    feed = Calendar.from_ical(client.get(re.sub(r"^https?://[^/]+", "", feed_url)).data)
    return ({str(e["UID"]) for e in download.walk("VEVENT")} | {str(e["UID"]) for e in feed.walk("VEVENT")}
            | {str(event["UID"]) for _, event in invites(mailbox, user.email)})


def test_new_bookings_have_one_random_uid_everywhere(client, alice, bob, meeting, mailbox, worker, register):
    worker()
    [uid] = uids(client, bob, meeting["id"], mailbox)
    assert re.fullmatch(r"[0-9a-f]{32}@.+", uid)
    other = client.post(BOOKINGS, json={"title": "Next", "start": f"{YEAR}-07-03T09:00:00Z",
                                        "end": f"{YEAR}-07-03T10:00:00Z"}, headers=alice.auth).json["booking"]
    download = Calendar.from_ical(client.get(f"{BOOKINGS}/{other['id']}/ics", headers=alice.auth).data)
    assert str(download.walk("VEVENT")[0]["UID"]) != uid
    assert "calendar_uid" not in meeting and "calendar_uid" not in client.get(f"{BOOKINGS}/{meeting['id']}",
                                                                               headers=bob.auth).json


def test_bookings_from_before_random_uids_keep_theirs(client, alice, bob, meeting, mailbox, worker, db):
    """A booking made before migration 017 has no calendar_uid: its calendars know it as
    booking-<id>@domain, and its updates must keep that UID or they would arrive as new events."""
    worker()
    domain = str(invites(mailbox, bob.email)[0][1]["UID"]).partition("@")[2]
    mailbox.clear()
    with db.cursor() as cur:
        cur.execute("UPDATE bookings SET calendar_uid = NULL WHERE id = %s", (meeting["id"],))
    db.commit()
    r = client.patch(f"{BOOKINGS}/{meeting['id']}", headers=alice.auth,
                     json={"start": f"{YEAR}-07-01T15:00:00Z", "end": f"{YEAR}-07-01T16:00:00Z"})
    assert r.status_code == 200
    client.patch(f"{BOOKINGS}/{meeting['id']}/attendance", json={"status": "accepted"}, headers=bob.auth)
    worker()
    assert [method for method, _ in invites(mailbox, bob.email)] == ["REQUEST"]
    assert uids(client, bob, meeting["id"], mailbox) == {f"booking-{meeting['id']}@{domain}"}
    client.delete(f"{BOOKINGS}/{meeting['id']}", headers=alice.auth)
    worker()
    assert [str(event["UID"]) for method, event in invites(mailbox, alice.email) if method == "CANCEL"] == \
        [f"booking-{meeting['id']}@{domain}"]


def test_feed_serves_my_bookings_without_a_token_and_rotates(client, alice, bob, meeting):
    client.post(BOOKINGS, json={"title": "Solo", "start": f"{YEAR}-07-02T09:00:00Z", "end": f"{YEAR}-07-02T10:00:00Z"},
                headers=bob.auth)
    first = client.post("/api/v1/users/me/calendar-feed", headers=bob.auth)
    assert first.status_code == 201
    path = re.sub(r"^https?://[^/]+", "", first.json["url"])
    r = client.get(path)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    assert sorted(str(e["SUMMARY"]) for e in Calendar.from_ical(r.data).walk("VEVENT")) == ["Planning", "Solo"]

    second = client.post("/api/v1/users/me/calendar-feed", headers=bob.auth)
    assert client.get(path).status_code == 404
    assert client.get(re.sub(r"^https?://[^/]+", "", second.json["url"])).status_code == 200
    assert client.get("/calendar/not-a-real-secret.ics").status_code == 404


def test_the_feed_secret_stays_out_of_the_request_log(client, bob, caplog):
    caplog.set_level("INFO", logger="scheduler.request")
    path = re.sub(r"^https?://[^/]+", "", client.post("/api/v1/users/me/calendar-feed", headers=bob.auth).json["url"])
    assert client.get(path).status_code == 200
    secret = path.removeprefix("/calendar/").removesuffix(".ics")
    for raw in (f"/{path}", f"/calendar//{secret}.ics"):  # as a client with a trailing / in its base URL sends it
        client.get(raw, environ_overrides={"PATH_INFO": raw})
    assert secret not in caplog.text
    assert "GET /calendar/[secret].ics 200" in caplog.text


def test_declined_bookings_leave_the_feed(client, bob, meeting):
    client.patch(f"{BOOKINGS}/{meeting['id']}/attendance", json={"status": "declined"}, headers=bob.auth)
    url = client.post("/api/v1/users/me/calendar-feed", headers=bob.auth).json["url"]
    assert Calendar.from_ical(client.get(re.sub(r"^https?://[^/]+", "", url)).data).walk("VEVENT") == []


def test_calendar_files_are_in_the_readers_zone(bob, meeting, mailbox, worker):
    worker()
    [(_, event)] = invites(mailbox, bob.email)
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event.decoded("DTSTART").isoformat() == f"{YEAR}-07-01T10:00:00-04:00"


def test_the_zone_in_a_calendar_file_holds_for_events_after_2037(client, alice, bob, org_of, set_profile):
    """Calendars apply the file's own VTIMEZONE rules, which must cover the event's date."""
    org_of(alice, bob)
    set_profile(bob, timezone="America/New_York")
    far = max(2045, YEAR)  # past 2037, and ahead of the clock
    booking = client.post(BOOKINGS, json={"title": "Far off", "start": f"{far}-07-01T14:00:00Z", "end": f"{far}-07-01T15:00:00Z",
                                          "attendees": [bob.id]}, headers=alice.auth).json["booking"]
    calendar = Calendar.from_ical(client.get(f"{BOOKINGS}/{booking['id']}/ics", headers=bob.auth).data)
    start = calendar.walk("VEVENT")[0]["DTSTART"]
    rules = calendar.walk("VTIMEZONE")[0].to_tz(lookup_tzid=False)
    assert start.params["TZID"] == "America/New_York"
    assert start.dt.replace(tzinfo=rules).isoformat() == f"{far}-07-01T10:00:00-04:00"


def test_a_single_download_has_no_method_so_its_attendees_are_allowed(client, bob, meeting):
    """RFC 5546 forbids ATTENDEE under METHOD:PUBLISH: a download is a plain iCalendar object."""
    calendar = Calendar.from_ical(client.get(f"{BOOKINGS}/{meeting['id']}/ics", headers=bob.auth).data)
    assert "METHOD" not in calendar
    assert len(calendar.walk("VEVENT")[0]["ATTENDEE"]) == 2


def test_the_feed_is_named_for_calendar_apps(client, bob, meeting):
    url = client.post("/api/v1/users/me/calendar-feed", headers=bob.auth).json["url"]
    calendar = Calendar.from_ical(client.get(re.sub(r"^https?://[^/]+", "", url)).data)
    assert str(calendar["X-WR-CALNAME"]) == str(calendar["NAME"]) == "Bob (Scheduler)"


def test_only_a_replaced_feed_url_is_said_to_stop_working(client, bob):
    first = client.post("/api/v1/users/me/calendar-feed", headers=bob.auth).json["message"]
    second = client.post("/api/v1/users/me/calendar-feed", headers=bob.auth).json["message"]
    assert first == "Calendar feed created" and "previous" not in first
    assert "previous one no longer works" in second
