"""Guest bookings end to end: races, privacy, manage tokens, the host's view, and the emails
and calendar files that reach the real SMTP server."""

import hashlib
import re
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import psycopg2
from icalendar import Calendar

from scheduler import clock, create_app
from scheduler.delivery import emails as delivery
from tests.booking_links import GUEST, PUBLIC, TYPES, at, book, booked, host, local_day, make_type  # noqa: F401
from helpers import PRODUCTION
from tests.test_races import at_once

DAY = 10


def guest_body(start, n=0):
    return {"start": start.isoformat(), "name": f"Guest {n}", "email": f"guest{n}@example.com"}


def calendars(mailbox, to):
    """(METHOD, VEVENT) of each calendar attachment sent to `to`, in order."""
    found = []
    for message in mailbox.received():
        if message["To"] == to:
            for part in message.iter_attachments():
                if part.get_content_type() == "text/calendar":
                    calendar = Calendar.from_ical(part.get_content())
                    found.append((str(calendar["METHOD"]), calendar.walk("VEVENT")[0]))
    return found


def sent_to(mailbox, to):
    return [m for m in mailbox.received() if m["To"] == to]


# Races

def test_two_guests_one_slot_exactly_one_books_it(app, host, make_type, db):
    make_type()
    path = f"{PUBLIC}/hana/intro/bookings"
    start = at(local_day(DAY), "10:00")
    answers = at_once(app, [("POST", path, guest_body(start, n), {}) for n in range(4)])
    assert sorted(status for status, _, _ in answers) == [201, 409, 409, 409]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings WHERE status = 'confirmed'")
        assert cur.fetchone()[0] == 1


def test_the_notice_is_judged_when_the_hosts_lock_is_had_not_before(app, host, make_type, database_url, set_profile,
                                                                     travel):
    """A guest who waited for the host's lock is held to the clock after the wait."""
    set_profile(host, working_hours={day: [{"start": "00:00", "end": "24:00"}] for day in
                                     ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    make_type(minimum_notice=60)
    soon = clock.now() + timedelta(minutes=61)
    start = soon.replace(second=0, microsecond=0) + timedelta(minutes=(30 - soon.minute % 30) % 30 or 30)
    holder = psycopg2.connect(database_url)
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (host.id,))
    answers = []
    guest = threading.Thread(target=lambda: answers.append(book(app.test_client(), start)))
    guest.start()
    guest.join(1.0)
    assert guest.is_alive(), "the booking did not wait for the host's lock"
    travel(timedelta(minutes=60))
    holder.commit()
    holder.close()
    guest.join(10)
    [r] = answers
    assert r.status_code == 400 and "too soon" in r.json["fields"]["start"], r.json


def test_parallel_guests_against_a_daily_limit_of_two_book_exactly_two(app, host, make_type, db):
    make_type(daily_limit=2)
    path = f"{PUBLIC}/hana/intro/bookings"
    starts = [at(local_day(DAY), f"{h:02}:00") for h in range(9, 15)]
    answers = at_once(app, [("POST", path, guest_body(start, n), {}) for n, start in enumerate(starts)])
    assert sorted(status for status, _, _ in answers) == [201, 201, 409, 409, 409, 409]
    assert all("fully booked" in body["error"] for status, _, body in answers if status == 409)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings WHERE status = 'confirmed'")
        assert cur.fetchone()[0] == 2


def test_parallel_guests_cannot_break_each_others_buffers(app, host, make_type, db):
    make_type(buffer_after=30, step=15)
    path = f"{PUBLIC}/hana/intro/bookings"
    starts = [at(local_day(DAY), t) for t in ("10:00", "10:45", "11:15")]  # each within the last one's buffer
    answers = at_once(app, [("POST", path, guest_body(start, n), {}) for n, start in enumerate(starts)])
    statuses = [status for status, _, _ in answers]
    assert statuses.count(201) in (1, 2) and set(statuses) <= {201, 409}
    with db.cursor() as cur:
        cur.execute("""SELECT count(*) FROM booking_attendees a JOIN booking_attendees b
                       ON a.user_id = b.user_id AND a.booking_id < b.booking_id AND a.confirmed AND b.confirmed
                       AND tstzrange(a.block_start, a.block_end) && tstzrange(b.block_start, b.block_end)""")
        assert cur.fetchone()[0] == 0


# Privacy

def test_public_routes_reveal_only_the_hosts_name_and_the_type(client, host, make_type, register):
    make_type(description="Say hello", location="Video call")
    day = local_day(DAY)
    client.post("/api/v1/bookings", json={"title": "Secret board meeting", "start": at(day, "09:00").isoformat(),
                                          "end": at(day, "10:00").isoformat()}, headers=host.auth)
    booked(client, at(day, "11:00"), name="Other Guest", email="other@example.com")
    info = client.get(f"{PUBLIC}/hana/intro")
    assert info.json == {"title": "Intro call", "description": "Say hello", "location": "Video call",
                         "duration": 30, "max_occurrences": 1, "host": {"name": "Hana"},
                         "policy": {"requires_confirmation": False, "seats": None, "cancel_notice": 0,
                                    "reschedule_notice": 0}}
    slots = client.get(f"{PUBLIC}/hana/intro/slots", query_string={"from": at(day, "00:00").isoformat(),
                                                                    "to": at(day, "23:00").isoformat()})
    mine = booked(client, at(day, "12:00"))
    manage = client.get(f"{GUEST}/{mine['manage_token']}")
    for response in (info, slots, manage):
        text = response.get_data(as_text=True)
        assert host.email not in text and "Secret" not in text and "other@example.com" not in text
        assert "Other Guest" not in text
    assert host.email not in str(mine)


def test_unknown_user_slug_and_inactive_type_are_the_same_404(client, host, make_type):
    event_type = make_type()
    client.patch(f"{TYPES}/{event_type['id']}", json={"active": False}, headers=host.auth)
    make_type(slug="open")
    answers = [client.get(path) for path in (f"{PUBLIC}/nobody/intro", f"{PUBLIC}/hana/nothing",
                                             f"{PUBLIC}/hana/intro", f"{PUBLIC}/hana/intro/slots",
                                             f"{PUBLIC}/ha%00na/open", f"{PUBLIC}/{'x' * 300}/open")]
    answers.append(book(client, at(local_day(DAY), "10:00")))
    assert {(r.status_code, r.get_data(as_text=True)) for r in answers} == {(404, '{"error":"Booking link not found"}')}
    assert client.get(f"{PUBLIC}/HANA/Open").status_code == 200


# Manage tokens

def test_the_token_is_long_random_and_stored_only_as_a_hash(client, host, make_type, db, worker):
    make_type()
    first, second = booked(client, at(local_day(DAY), "10:00")), booked(client, at(local_day(DAY), "11:00"))
    token = first["manage_token"]
    assert len(token) >= 43 and token != second["manage_token"]
    assert first["manage_url"] == f"http://localhost/manage/{token}"
    worker()
    with db.cursor() as cur:
        cur.execute("SELECT guest_token_hash FROM bookings ORDER BY id LIMIT 1")
        assert cur.fetchone()[0] == hashlib.sha256(token.encode()).hexdigest()
        cur.execute("SELECT count(*) FROM bookings b, email_outbox o WHERE b::text LIKE %(t)s OR o::text LIKE %(t)s",
                    {"t": f"%{token}%"})
        assert cur.fetchone()[0] == 0


def test_a_guest_sees_and_cancels_their_booking_once(client, host, make_type):
    make_type(location="Room 4", description="Bring your plans.")
    mine = booked(client, at(local_day(DAY), "10:00"), timezone="Asia/Tokyo")
    path = f"{GUEST}/{mine['manage_token']}"
    shown = client.get(path).json["booking"]
    assert shown == mine["booking"] | {"can_change": True, "can_cancel": True, "can_reschedule": True,
                                       "why_not": {"cancel": None, "reschedule": None},
                                       "cancel_until": mine["booking"]["start"],
                                       "reschedule_until": mine["booking"]["start"], "later": 0,
                                       "description": "Bring your plans."}
    assert shown["start"] == at(local_day(DAY), "10:00").astimezone(ZoneInfo("Asia/Tokyo")).isoformat()
    r = client.post(f"{path}/cancel", json={"reason": "Clash"})
    assert r.status_code == 200 and r.json["booking"]["status"] == "cancelled"
    assert client.post(f"{path}/cancel", json={}).status_code == 409
    assert client.post(f"{path}/reschedule", json={"start": at(local_day(DAY), "11:00").isoformat()}).status_code == 409
    assert client.get(path).json["booking"]["can_change"] is False
    assert client.get("/api/v1/bookings", headers=host.auth).json[0]["status"] == "cancelled"


def test_unknown_or_malformed_tokens_are_404(client, host, make_type):
    make_type()
    booked(client, at(local_day(DAY), "10:00"))
    for token in ("A" * 43, "short", "x" * 200, "%00" * 43):
        assert client.get(f"{GUEST}/{token}").status_code == 404
        assert client.post(f"{GUEST}/{token}/cancel", json={}).status_code == 404
        assert client.post(f"{GUEST}/{token}/reschedule", json={"start": at(local_day(DAY), "11:00")}).status_code == 404


def test_rescheduling_keeps_the_booking_and_follows_the_rules(client, host, make_type):
    make_type(duration=60, step=30)
    day = local_day(DAY)
    mine = booked(client, at(day, "10:00"))
    booked(client, at(day, "13:00"), email="other@example.com")
    path = f"{GUEST}/{mine['manage_token']}"
    # Its own time does not stand in its way: 10:30 overlaps the booking being moved.
    options = client.get(f"{path}/slots", query_string={"from": at(day, "09:00").isoformat(),
                                                         "to": at(day, "17:00").isoformat()}).json["slots"]
    assert at(day, "10:30").isoformat() in [s["start"] for s in options]
    assert at(day, "12:30").isoformat() not in [s["start"] for s in options]
    assert client.post(f"{path}/reschedule", json={"start": at(day, "12:30").isoformat()}).status_code == 409
    r = client.post(f"{path}/reschedule", json={"start": at(day, "10:10").isoformat()})
    assert r.status_code == 400 and "not an offered start" in r.json["fields"]["start"]
    r = client.post(f"{path}/reschedule", json={"start": f"{day}T19:30:00", "timezone": "Europe/Paris"})
    assert r.status_code == 400  # 18:30 UTC: outside the host's hours
    r = client.post(f"{path}/reschedule", json={"start": at(day, "10:30").isoformat()})
    assert r.status_code == 200 and r.json["booking"]["start"] == at(day, "10:30").isoformat()
    rows = client.get("/api/v1/bookings", headers=host.auth).json
    assert [(b["start_time"], b["guest"]["email"]) for b in rows] == [
        (at(day, "10:30").isoformat(), "gus@example.com"), (at(day, "13:00").isoformat(), "other@example.com")]


def test_past_bookings_and_inactive_types_cannot_be_changed(client, host, make_type, travel):
    event_type = make_type()
    day = local_day(DAY)
    first, second = booked(client, at(day, "10:00")), booked(client, at(day, "11:00"))
    client.patch(f"{TYPES}/{event_type['id']}", json={"active": False}, headers=host.auth)
    r = client.post(f"{GUEST}/{first['manage_token']}/reschedule", json={"start": at(day, "12:00").isoformat()})
    assert r.status_code == 409 and "only cancelled" in r.json["error"]
    travel(timedelta(days=DAY + 1))
    for token in (first["manage_token"], second["manage_token"]):
        assert client.post(f"{GUEST}/{token}/cancel", json={}).status_code == 409
        assert client.get(f"{GUEST}/{token}").json["booking"]["can_change"] is False


# The host's view

def test_the_host_sees_guest_bookings_wherever_their_own_show(client, host, make_type):
    event_type = make_type(buffer_before=15)
    day = local_day(DAY)
    booked(client, at(day, "10:00"), notes="About the offer")
    [row] = client.get("/api/v1/bookings", headers=host.auth).json
    assert row["event_type_id"] == event_type["id"] and row["title"] == "Intro call"
    assert row["guest"] == {"name": "Gus Guest", "email": "gus@example.com", "timezone": "UTC", "language": "en",
                            "notes": "About the offer"}
    window = {"from": at(day, "09:00").isoformat(), "to": at(day, "12:00").isoformat()}
    busy = client.get("/api/v1/users/me/busy", query_string=window, headers=host.auth).json["busy"]
    assert busy == [{"start": at(day, "09:45").isoformat(), "end": at(day, "10:30").isoformat()}]
    free = client.get("/api/v1/users/me/availability", query_string=window | {"duration": 30, "step": 15},
                      headers=host.auth).json["slots"]
    assert at(day, "09:45").isoformat() not in [s["start"] for s in free]
    feed = client.get(client.post("/api/v1/users/me/calendar-feed", headers=host.auth).json["url"]).data
    calendar = Calendar.from_ical(feed)
    assert str(calendar["X-WR-CALNAME"]) == "Hana (Scheduler)" and str(calendar["NAME"]) == "Hana (Scheduler)"
    [event] = calendar.walk("VEVENT")
    assert "mailto:gus@example.com" in [str(a).lower() for a in event["ATTENDEE"]]


def test_the_host_cancels_and_the_guest_gets_the_cancellation(client, host, make_type, mailbox, worker):
    make_type()
    mine = booked(client, at(local_day(DAY), "10:00"))
    [row] = client.get("/api/v1/bookings", headers=host.auth).json
    assert client.delete(f"/api/v1/bookings/{row['id']}", headers=host.auth).status_code == 200
    worker()
    sent = calendars(mailbox, "gus@example.com")
    assert [method for method, _ in sent] == ["REQUEST", "CANCEL"]
    assert sent[0][1]["UID"] == sent[1][1]["UID"] and int(sent[1][1]["SEQUENCE"]) > int(sent[0][1]["SEQUENCE"])
    [cancelled] = [m for m in sent_to(mailbox, "gus@example.com") if "cancelled" in m["Subject"]]
    assert "(by Hana)" in cancelled.get_body(("plain",)).get_content()
    assert client.get(f"{GUEST}/{mine['manage_token']}").json["booking"]["status"] == "cancelled"


# Emails and calendar files

def test_confirmation_invitation_and_manage_link_reach_the_guest(client, host, make_type, mailbox, worker):
    make_type(location="Room 4")
    mine = booked(client, at(local_day(DAY), "10:00"), timezone="Europe/Paris")
    worker()
    [confirmation] = sent_to(mailbox, "gus@example.com")
    assert confirmation["Subject"] == "Booked: Intro call with Hana"
    text = confirmation.get_body(("plain",)).get_content()
    assert mine["manage_url"] in text and "11:00 CET (Europe/Paris)" in text and "Room 4" in text
    assert host.email not in confirmation.as_string()
    [(method, event)] = calendars(mailbox, "gus@example.com")
    assert method == "REQUEST" and str(event["LOCATION"]) == "Room 4"
    assert str(event["ORGANIZER"]).lower() == "mailto:noreply@scheduler.test"
    assert event["ORGANIZER"].params["CN"] == "Hana"
    assert str(event["ATTENDEE"]).lower() == "mailto:gus@example.com"
    [to_host] = [m for m in sent_to(mailbox, host.email) if m["Subject"].startswith("New booking")]
    assert to_host["Subject"] == "New booking: Intro call with Gus Guest"
    assert "gus@example.com" in to_host.get_body(("plain",)).get_content()
    notes = client.get("/api/v1/notifications", headers=host.auth).json
    assert [(n["type"], n["title"]) for n in notes] == [("GUEST_BOOKED", 'Gus Guest booked "Intro call"')]


def test_a_guest_sees_the_host_by_the_name_they_have_when_it_is_sent(client, host, make_type, set_profile, mailbox,
                                                                     worker):
    """Only the host's name is theirs in a guest's copy: the organizer's address stays the
    service's, whatever address the host has now."""
    make_type()
    booked(client, at(local_day(DAY), "10:00"))
    set_profile(host, name="Hannah", email="hannah@example.com")
    worker()
    [confirmation] = sent_to(mailbox, "gus@example.com")
    assert confirmation["Subject"] == "Booked: Intro call with Hannah"
    assert host.email not in confirmation.as_string() and "hannah@example.com" not in confirmation.as_string()
    [(_, event)] = calendars(mailbox, "gus@example.com")
    assert str(event["ORGANIZER"]).lower() == "mailto:noreply@scheduler.test"
    assert event["ORGANIZER"].params["CN"] == "Hannah"
    [(_, hosts)] = calendars(mailbox, "hannah@example.com")
    assert str(hosts["ORGANIZER"]).lower() == "mailto:hannah@example.com"


def test_reschedule_and_cancel_send_the_same_uid_with_growing_sequence(client, host, make_type, mailbox, worker):
    make_type()
    day = local_day(DAY)
    path = f"{GUEST}/{booked(client, at(day, '10:00'))['manage_token']}"
    client.post(f"{path}/reschedule", json={"start": at(day, "11:00").isoformat()})
    client.post(f"{path}/cancel", json={"reason": "Found another time"})
    worker()
    for person in ("gus@example.com", host.email):
        sent = calendars(mailbox, person)
        assert [method for method, _ in sent] == ["REQUEST", "REQUEST", "CANCEL"]
        assert len({str(event["UID"]) for _, event in sent}) == 1
        sequences = [int(event["SEQUENCE"]) for _, event in sent]
        assert sequences == sorted(set(sequences))
        assert sent[1][1].decoded("DTSTART").astimezone(at(day, "00:00").tzinfo) == at(day, "11:00")
    [cancelled] = [m for m in sent_to(mailbox, host.email) if "cancelled" in m["Subject"]]
    assert "Found another time" in cancelled.get_body(("plain",)).get_content()
    kinds = [n["type"] for n in client.get("/api/v1/notifications", headers=host.auth).json]
    assert sorted(kinds) == ["GUEST_BOOKED", "GUEST_CANCELLED", "GUEST_MOVED"]


def test_guests_are_reminded_a_day_and_an_hour_before(client, host, make_type, mailbox, worker, travel, set_profile):
    set_profile(host, reminders=[30])
    make_type()
    mine = booked(client, at(local_day(DAY), "10:00"))
    worker()
    mailbox.clear()
    travel(at(local_day(DAY), "10:00") - timedelta(hours=24, minutes=-1) - clock.now())
    runtime = worker()
    delivery.sweep(runtime)
    worker()
    [day_before] = sent_to(mailbox, "gus@example.com")
    assert day_before["Subject"] == "Reminder: Intro call with Hana"
    assert mine["manage_url"] in day_before.get_body(("plain",)).get_content()
    travel(timedelta(hours=23))
    delivery.sweep(runtime)
    worker()
    assert len(sent_to(mailbox, "gus@example.com")) == 2
    assert len([m for m in sent_to(mailbox, host.email) if "Reminder" in m["Subject"]]) == 0


def test_what_a_guest_types_is_escaped_and_adds_no_headers(client, host, make_type, mailbox, worker):
    make_type()
    start = at(local_day(DAY), "10:00").isoformat()
    r = client.post(f"{PUBLIC}/hana/intro/bookings",
                    json={"start": start, "name": "Al\r\nBcc: victim@example.com", "email": "al@example.com"})
    assert r.status_code == 400 and "name" in r.json["fields"]
    booked(client, at(local_day(DAY), "10:00"), name='<img src=x onerror=alert(1)> Bcc: victim@example.com',
           notes="<script>alert(1)</script>")
    worker()
    for message in mailbox.received():
        assert message["Bcc"] is None and "\n" not in message["Subject"]
        html = message.get_body(("html",)).get_content()
        assert "<script>" not in html and "<img" not in html
    [to_host] = [m for m in sent_to(mailbox, host.email) if m["Subject"].startswith("New booking")]
    assert "&lt;script&gt;" in to_host.get_body(("html",)).get_content()


def test_bad_guest_input_is_400_and_books_nothing(client, host, make_type):
    make_type()
    start = at(local_day(DAY), "10:00").isoformat()
    for body, field in (({"start": start, "name": "", "email": "a@example.com"}, "name"),
                        ({"start": start, "name": "x" * 101, "email": "a@example.com"}, "name"),
                        ({"start": start, "name": "Al", "email": "not-an-email"}, "email"),
                        ({"start": start, "name": "Al", "email": "a@example.com", "notes": "n" * 1001}, "notes"),
                        ({"start": start, "name": "Al", "email": "a@example.com", "timezone": "Nowhere"}, "timezone"),
                        ({"start": "tomorrow", "name": "Al", "email": "a@example.com"}, "start")):
        r = client.post(f"{PUBLIC}/hana/intro/bookings", json=body)
        assert r.status_code == 400 and field in r.json["fields"], (body, r.json)
    assert client.get("/api/v1/bookings", headers=host.auth).json == []


# Abuse

def test_public_posts_are_rate_limited_per_address(settings, redis_conn, host, make_type):
    make_type()
    limited = create_app(settings.replace(public_rate_limit=2))
    try:
        client = limited.test_client()
        answers = [book(client, at(local_day(DAY), f"{h}:00"), email=f"g{h}@example.com") for h in (10, 11, 12)]
        assert [r.status_code for r in answers] == [201, 201, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert client.get(f"{PUBLIC}/hana/intro").status_code == 200
        token = answers[0].json["manage_token"]
        assert client.post(f"{GUEST}/{token}/cancel", json={}).status_code == 429
    finally:
        limited.extensions["runtime"].db.close()


def test_public_rate_limit_is_on_in_production_by_default():
    from scheduler.config import Settings
    production = Settings.from_mapping(PRODUCTION)
    assert production.public_rate_limit == 20
    assert Settings.from_mapping({}).public_rate_limit == 0
    assert re.search(r"PUBLIC_RATE_LIMIT", open(".env.example").read())


def test_manage_tokens_stay_out_of_the_request_log(client, host, make_type, caplog):
    make_type()
    token = booked(client, at(local_day(DAY), "10:00"))["manage_token"]
    caplog.set_level("INFO", logger="scheduler.request")
    client.get(f"{GUEST}/{token}")
    client.post(f"{GUEST}/{token}/cancel", json={})
    client.get(f"/manage/{token}")
    assert token not in caplog.text
    assert "GET /api/v1/guest-bookings/[token] 200" in caplog.text
    assert "POST /api/v1/guest-bookings/[token]/cancel 200" in caplog.text
