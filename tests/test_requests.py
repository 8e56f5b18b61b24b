"""A booking's life past its making: requests the host confirms or declines (or that expire),
seats shared by several guests, the notices that hold guests (never the host), a cancellation's
reason, and no-shows. Races run through the real app against the real database."""

import json
import re
import threading
from datetime import timedelta

import psycopg2
import pytest
from icalendar import Calendar

from scheduler import clock
from scheduler.booking_write import BookingWrite
from scheduler.runtime import start_worker
from tests.booking_links import GUEST, PUBLIC, TYPES, at, book, booked, host, local_day, make_type  # noqa: F401
from tests.team_links import make_team_type, team, team_book  # noqa: F401
from tests.test_guest_bookings import calendars, guest_body, sent_to
from tests.test_races import at_once
from tests.test_webhooks import subscribe  # noqa: F401 (fixture)
from worker import background_tasks

DAY = 10
BOOKINGS = "/api/v1/bookings"


def requests_type(make_type, **fields):
    return make_type(requires_confirmation=True, **fields)


def statuses(answers):
    return sorted(status for status, _, _ in answers)


def count(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


# Approval

def test_a_request_is_pending_holds_its_slot_and_is_listed(client, host, make_type):
    requests_type(make_type, confirmation_hours=48)
    start = at(local_day(DAY), "10:00")
    r = book(client, start)
    assert r.status_code == 201 and r.json["booking"]["status"] == "pending", r.json
    assert r.json["message"] == "Request sent: the host will confirm it"
    assert book(client, start, email="late@example.com").status_code == 409
    slots = client.get(f"{PUBLIC}/hana/intro/slots", query_string={
        "from": at(local_day(DAY), "00:00").isoformat(), "to": at(local_day(DAY + 1), "00:00").isoformat()}).json
    assert start.isoformat() not in [s["start"] for s in slots["slots"]]
    [pending] = client.get(BOOKINGS, query_string={"status": "pending"}, headers=host.auth).json
    assert pending["expires_at"] is not None and pending["guest"]["email"] == "gus@example.com"
    assert client.get(BOOKINGS, query_string={"status": "confirmed"}, headers=host.auth).json == []
    # The host's own booking at that time is refused too: the request holds it.
    own = client.post(BOOKINGS, json={"title": "Mine", "start": start.isoformat(),
                                      "end": (start + timedelta(minutes=30)).isoformat()}, headers=host.auth)
    assert own.status_code == 409


def test_a_request_expires_at_its_start_when_that_is_sooner(client, host, make_type, set_profile):
    set_profile(host, working_hours={day: [{"start": "00:00", "end": "24:00"}]
                                     for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    requests_type(make_type, confirmation_hours=168, minimum_notice=0)
    start = (clock.now() + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    booked(client, start)
    [pending] = client.get(BOOKINGS, headers=host.auth).json
    assert pending["expires_at"] == start.isoformat()


def test_the_host_confirms_once_and_the_guest_gets_the_invitation(client, host, make_type, worker, mailbox):
    requests_type(make_type)
    mine = booked(client, at(local_day(DAY), "10:00"))
    worker()
    assert [m["Subject"] for m in sent_to(mailbox, "gus@example.com")] == ["Request received: Intro call with Hana"]
    assert calendars(mailbox, "gus@example.com") == []
    [to_host] = [m for m in sent_to(mailbox, host.email) if not m["Subject"].startswith("Welcome")]
    assert to_host["Subject"] == "New request: Intro call with Gus Guest"
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    assert f"/api/v1/bookings/{booking_id}/confirm" in to_host.get_body(("plain",)).get_content()
    mailbox.clear()
    r = client.post(f"{BOOKINGS}/{booking_id}/confirm", headers=host.auth)
    assert r.status_code == 200 and r.json["booking"]["status"] == "confirmed" and r.json["booking"]["expires_at"] is None
    assert client.post(f"{BOOKINGS}/{booking_id}/confirm", headers=host.auth).status_code == 409
    assert client.post(f"{BOOKINGS}/{booking_id}/decline", headers=host.auth).status_code == 409
    worker()
    [(method, event)] = calendars(mailbox, "gus@example.com")
    assert method == "REQUEST" and str(event["STATUS"]) == "CONFIRMED"
    assert client.get(f"{GUEST}/{mine['manage_token']}").json["booking"]["status"] == "confirmed"


def test_the_hosts_feed_shows_a_request_as_tentative_until_confirmed(client, host, make_type):
    requests_type(make_type)
    booked(client, at(local_day(DAY), "10:00"))
    feed_url = client.post("/api/v1/users/me/calendar-feed", headers=host.auth).json["url"]

    def status():
        [event] = Calendar.from_ical(client.get(re.sub(r"^https?://[^/]+", "", feed_url)).data).walk("VEVENT")
        return str(event["STATUS"])
    assert status() == "TENTATIVE"
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    client.post(f"{BOOKINGS}/{booking_id}/confirm", headers=host.auth)
    assert status() == "CONFIRMED"


def test_only_the_host_answers_a_request(client, host, register, make_type):
    requests_type(make_type)
    booked(client, at(local_day(DAY), "10:00"))
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    stranger = register("Stranger")
    assert client.post(f"{BOOKINGS}/{booking_id}/confirm", headers=stranger.auth).status_code == 404
    own = client.post(BOOKINGS, json={"title": "Mine", "start": at(local_day(DAY), "12:00").isoformat(),
                                      "end": at(local_day(DAY), "12:30").isoformat()}, headers=host.auth).json
    r = client.post(f"{BOOKINGS}/{own['booking']['id']}/confirm", headers=host.auth)
    assert r.status_code == 409 and "confirmed" in r.json["error"]


def test_a_declined_request_frees_its_slot_and_tells_the_guest_why(client, host, make_type, worker, mailbox):
    requests_type(make_type)
    start = at(local_day(DAY), "10:00")
    mine = booked(client, start)
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    r = client.post(f"{BOOKINGS}/{booking_id}/decline", json={"reason": "I am at a conference"}, headers=host.auth)
    assert r.status_code == 200 and r.json["booking"]["status"] == "declined"
    worker()
    declined = sent_to(mailbox, "gus@example.com")[-1]
    assert declined["Subject"] == "Request declined: Intro call with Hana"
    assert "I am at a conference" in declined.get_body(("plain",)).get_content()
    assert calendars(mailbox, "gus@example.com") == []
    assert client.get(f"{GUEST}/{mine['manage_token']}").json["booking"]["why_not"] == {
        "cancel": "declined", "reschedule": "declined"}
    assert book(client, start, email="next@example.com").status_code == 201


def test_a_request_left_unanswered_expires_frees_its_slot_and_is_told(client, host, make_type, worker, mailbox,
                                                                       travel, settings):
    requests_type(make_type, confirmation_hours=2)
    start = at(local_day(DAY), "10:00")
    booked(client, start)
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    runtime = worker()
    assert BookingWrite(runtime).expire_requests(limit=100) == 0
    travel(timedelta(hours=2, seconds=1))
    assert client.post(f"{BOOKINGS}/{booking_id}/confirm", headers=host.auth).status_code == 409
    mailbox.clear()
    assert BookingWrite(runtime).expire_requests(limit=100) == 1
    assert client.get(f"{BOOKINGS}/{booking_id}", headers=host.auth).json["status"] == "expired"
    worker()
    assert [m["Subject"] for m in sent_to(mailbox, "gus@example.com")] == ["Request expired: Intro call with Hana"]
    assert [m["Subject"] for m in sent_to(mailbox, host.email)][-1:] == ["Request expired: Intro call with Gus Guest"]
    assert calendars(mailbox, "gus@example.com") == []
    assert book(client, start, email="next@example.com").status_code == 201


def test_the_worker_sweep_expires_requests(client, host, make_type, settings, travel):
    requests_type(make_type, confirmation_hours=1)
    booked(client, at(local_day(DAY), "10:00"))
    travel(timedelta(hours=1, seconds=1))
    runtime = start_worker(settings)
    try:
        dict((task.__name__, task) for _, task in background_tasks(runtime))["request_expiry"]()
    finally:
        runtime.db.close()
    assert client.get(BOOKINGS, headers=host.auth).json[0]["status"] == "expired"


def test_twenty_guests_for_one_request_slot_one_is_pending(app, host, make_type, db):
    requests_type(make_type)
    path = f"{PUBLIC}/hana/intro/bookings"
    start = at(local_day(DAY), "10:00")
    answers = at_once(app, [("POST", path, guest_body(start, n), {}) for n in range(20)])
    assert statuses(answers) == [201] + [409] * 19
    assert count(db, "SELECT count(*) FROM bookings WHERE status = 'pending'") == 1


def test_confirm_against_decline_exactly_one_wins_each_time(app, client, host, make_type, set_profile):
    set_profile(host, working_hours={day: [{"start": "00:00", "end": "24:00"}]
                                     for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    requests_type(make_type)
    day = local_day(DAY)
    for n in range(20):
        booked(client, at(day, "00:00") + timedelta(hours=n), email=f"g{n}@example.com")
    ids = [b["id"] for b in client.get(BOOKINGS, query_string={"limit": 50}, headers=host.auth).json]
    assert len(ids) == 20
    for booking_id in ids:
        answers = at_once(app, [("POST", f"{BOOKINGS}/{booking_id}/confirm", None, host.auth),
                                ("POST", f"{BOOKINGS}/{booking_id}/decline", {}, host.auth)])
        assert statuses(answers) == [200, 409], answers
        won = next(body for status, _, body in answers if status == 200)["booking"]["status"]
        assert client.get(f"{BOOKINGS}/{booking_id}", headers=host.auth).json["status"] == won


def test_confirm_against_the_expiry_sweep_exactly_one_wins(app, client, host, make_type, worker, travel):
    requests_type(make_type, confirmation_hours=1)
    booked(client, at(local_day(DAY), "10:00"))
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    runtime = worker()
    travel(timedelta(minutes=59, seconds=59))
    results = {}
    barrier = threading.Barrier(2)

    def confirm():
        barrier.wait()
        results["confirm"] = app.test_client().post(f"{BOOKINGS}/{booking_id}/confirm", headers=host.auth).status_code

    def sweep():
        barrier.wait()
        results["sweep"] = BookingWrite(runtime).expire_requests(limit=10)
    threads = [threading.Thread(target=confirm), threading.Thread(target=sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    status = client.get(f"{BOOKINGS}/{booking_id}", headers=host.auth).json["status"]
    assert (results["confirm"], results["sweep"], status) in ((200, 0, "confirmed"), (409, 1, "expired"))


def test_the_sweep_skips_a_request_whose_answer_is_under_way(client, host, make_type, worker, travel, database_url):
    """A confirm holding the request's row: the sweep neither waits for it nor expires it."""
    requests_type(make_type, confirmation_hours=1)
    booked(client, at(local_day(DAY), "10:00"))
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    runtime = worker()
    answering = psycopg2.connect(database_url)
    with answering.cursor() as cur:
        cur.execute("SELECT id FROM bookings WHERE id = %s FOR UPDATE", (booking_id,))
    travel(timedelta(hours=1, seconds=1))
    swept = threading.Thread(target=lambda: BookingWrite(runtime).expire_requests(limit=10))
    swept.start()
    swept.join(5)
    assert not swept.is_alive(), "the sweep waited for the row"
    answering.rollback()
    answering.close()
    assert client.get(f"{BOOKINGS}/{booking_id}", headers=host.auth).json["status"] == "pending"
    assert BookingWrite(runtime).expire_requests(limit=10) == 1


def test_a_type_requiring_confirmation_takes_no_series_nor_seats(client, host, make_type):
    r = client.post(TYPES, json={"slug": "x", "title": "X", "duration": 30, "requires_confirmation": True,
                                 "max_occurrences": 4}, headers=host.auth)
    assert r.status_code == 400 and "max_occurrences" in r.json["fields"]
    r = client.post(TYPES, json={"slug": "x", "title": "X", "duration": 30, "requires_confirmation": True,
                                 "seats": 5}, headers=host.auth)
    assert r.status_code == 400 and "seats" in r.json["fields"]
    made = make_type(seats=5)
    r = client.patch(f"{TYPES}/{made['id']}", json={"requires_confirmation": True}, headers=host.auth)
    assert r.status_code == 400 and "seats" in r.json["fields"]
    assert client.patch(f"{TYPES}/{made['id']}", json={"seats": None, "requires_confirmation": True},
                        headers=host.auth).json["event_type"]["requires_confirmation"] is True


def test_a_guest_withdraws_a_request_without_a_calendar_cancellation(client, host, make_type, worker, mailbox):
    requests_type(make_type)
    mine = booked(client, at(local_day(DAY), "10:00"))
    path = f"{GUEST}/{mine['manage_token']}"
    shown = client.get(path).json["booking"]
    assert (shown["can_cancel"], shown["can_reschedule"], shown["why_not"]["reschedule"]) == (True, False, "pending")
    assert client.post(f"{path}/reschedule", json={"start": at(local_day(DAY), "11:00").isoformat()}).status_code == 409
    assert client.post(f"{path}/cancel", json={"reason": "Found another time"}).json["booking"]["status"] == "cancelled"
    worker()
    assert calendars(mailbox, "gus@example.com") == []
    assert "withdrew" in next(n for n in client.get("/api/v1/notifications", headers=host.auth).json
                              if n["type"] == "GUEST_CANCELLED")["title"]


def test_the_host_cannot_cancel_or_move_a_request_only_answer_it(client, host, make_type):
    requests_type(make_type)
    booked(client, at(local_day(DAY), "10:00"))
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    assert client.delete(f"{BOOKINGS}/{booking_id}", headers=host.auth).status_code == 409
    r = client.patch(f"{BOOKINGS}/{booking_id}", json={"title": "Renamed"}, headers=host.auth)
    assert r.status_code == 409 and "confirm or decline" in r.json["error"]


# Seats

def test_fifty_guests_for_five_seats_five_get_one(app, client, host, make_type, db):
    make_type(seats=5)
    path = f"{PUBLIC}/hana/intro/bookings"
    start = at(local_day(DAY), "10:00")
    answers = at_once(app, [("POST", path, guest_body(start, n), {}) for n in range(50)])
    assert statuses(answers) == [201] * 5 + [409] * 45
    assert count(db, "SELECT count(*) FROM bookings") == 1
    assert count(db, "SELECT count(*) FROM booking_seats WHERE status = 'confirmed'") == 5
    assert count(db, "SELECT seats_taken FROM bookings") == 5


def test_the_database_refuses_a_seat_past_the_capacity(client, host, make_type, db):
    make_type(seats=2)
    start = at(local_day(DAY), "10:00")
    booked(client, start)
    booked(client, start, email="second@example.com")
    with pytest.raises(psycopg2.errors.CheckViolation):
        with db.cursor() as cur:
            cur.execute("UPDATE bookings SET seats_taken = seats_taken + 1")
    db.rollback()


def test_seated_guests_share_one_booking_and_never_see_each_other(client, host, make_type, worker, mailbox):
    make_type(seats=3)
    day = local_day(DAY)
    start = at(day, "10:00")
    window = {"from": at(day, "00:00").isoformat(), "to": at(day + timedelta(days=1), "00:00").isoformat()}
    first = booked(client, start, name="Ann", email="ann@example.com")
    second = booked(client, start, name="Ben", email="ben@example.com")
    assert first["booking"]["guest"] == {"name": "Ann", "email": "ann@example.com"}
    assert second["booking"]["guest"] == {"name": "Ben", "email": "ben@example.com"}
    assert first["manage_token"] != second["manage_token"]
    shown = client.get(f"{GUEST}/{second['manage_token']}").json["booking"]
    assert "Ann" not in str(shown) and shown["why_not"]["reschedule"] == "seat"
    slots = client.get(f"{PUBLIC}/hana/intro/slots", query_string=window).json["slots"]
    seat = next(s for s in slots if s["start"] == start.isoformat())
    assert seat["seats_left"] == 1 and {s["seats_left"] for s in slots if s is not seat} == {3}
    [booking] = client.get(BOOKINGS, headers=host.auth).json
    assert booking["guest"] is None and booking["seats"]["capacity"] == 3 and booking["seats"]["taken"] == 2
    assert [g["name"] for g in booking["seats"]["guests"]] == ["Ann", "Ben"]
    worker()
    uids = {str(event["UID"]) for to in ("ann@example.com", "ben@example.com")
            for method, event in calendars(mailbox, to)}
    assert len(uids) == 1
    for message in sent_to(mailbox, "ben@example.com"):
        assert "Ann" not in message.as_string() and "ann@example.com" not in message.as_string()
    booked(client, start, name="Cat", email="cat@example.com")
    assert start.isoformat() not in [s["start"] for s in client.get(f"{PUBLIC}/hana/intro/slots",
                                                                    query_string=window).json["slots"]]
    full = book(client, start, name="Dan", email="dan@example.com")
    assert full.status_code == 409 and "fully booked" in full.json["error"]


def test_a_seat_given_up_is_free_again_and_the_last_cancels_the_booking(client, host, make_type, worker, mailbox):
    make_type(seats=2)
    start = at(local_day(DAY), "10:00")
    ann = booked(client, start, name="Ann", email="ann@example.com")
    ben = booked(client, start, name="Ben", email="ben@example.com")
    worker()
    mailbox.clear()
    r = client.post(f"{GUEST}/{ann['manage_token']}/cancel", json={"reason": "Ill"})
    assert r.status_code == 200 and r.json["booking"]["status"] == "cancelled"
    [booking] = client.get(BOOKINGS, headers=host.auth).json
    assert booking["status"] == "confirmed" and booking["seats"]["taken"] == 1
    assert client.get(f"{GUEST}/{ben['manage_token']}").json["booking"]["status"] == "confirmed"
    worker()
    [(method, _)] = calendars(mailbox, "ann@example.com")
    assert method == "CANCEL" and calendars(mailbox, "ben@example.com") == []
    assert calendars(mailbox, host.email) == []  # the host's copy stays: Ben still comes
    cat = booked(client, start, name="Cat", email="cat@example.com")
    for token in (ben["manage_token"], cat["manage_token"]):
        assert client.post(f"{GUEST}/{token}/cancel", json={}).status_code == 200
    [booking] = client.get(BOOKINGS, headers=host.auth).json
    assert (booking["status"], booking["seats"]["taken"]) == ("cancelled", 0)
    mailbox.clear()
    worker()
    assert [method for method, _ in calendars(mailbox, host.email)] == ["CANCEL"]
    assert book(client, at(local_day(DAY), "10:00") + timedelta(minutes=15), name="Dan",
                email="dan@example.com").status_code == 400  # not a start; but 10:00 is free again:
    assert booked(client, start, name="Dan", email="dan@example.com")["booking"]["status"] == "confirmed"


def test_the_hosts_are_invited_once_per_seated_booking_and_never_see_a_seats_guest(client, host, make_type, worker,
                                                                                   mailbox):
    make_type(seats=3)
    start = at(local_day(DAY), "10:00")
    for name in ("ann", "ben"):
        booked(client, start, name=name.title(), email=f"{name}@example.com")
    worker()
    [(method, event)] = calendars(mailbox, host.email)
    assert method == "REQUEST"
    assert "ann@example.com" not in event.to_ical().decode().lower()
    subjects = [m["Subject"] for m in sent_to(mailbox, host.email) if not m["Subject"].startswith("Welcome")]
    assert subjects == ["Seat booked: Intro call with Ann", "Seat booked: Intro call with Ben"]


def test_a_guest_joining_a_seated_booking_locks_its_row_before_the_hosts(app, client, host, make_type,
                                                                          database_url):
    """The one lock order (booking row, then people): a guest joining waits for the row without
    holding the host, so a seat being given up (row, then host) never waits for it in a circle."""
    make_type(seats=3)
    start = at(local_day(DAY), "10:00")
    booked(client, start, name="Ann", email="ann@example.com")
    giver = psycopg2.connect(database_url)
    with giver.cursor() as cur:
        cur.execute("SELECT id FROM bookings FOR UPDATE")
    answers = []
    joiner = threading.Thread(target=lambda: answers.append(
        book(app.test_client(), start, name="Ben", email="ben@example.com")))
    joiner.start()
    joiner.join(1.0)
    assert joiner.is_alive(), "the guest did not wait for the booking's row"
    with giver.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (host.id,))
        assert cur.fetchone()[0] is True, "the waiting guest holds the host's lock"
    giver.commit()
    giver.close()
    joiner.join(10)
    assert [r.status_code for r in answers] == [201]


def test_the_host_cancelling_a_seated_booking_tells_every_seat(client, host, make_type, worker, mailbox):
    make_type(seats=4)
    start = at(local_day(DAY), "10:00")
    for name in ("ann", "ben"):
        booked(client, start, name=name.title(), email=f"{name}@example.com")
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    worker()
    mailbox.clear()
    r = client.delete(f"{BOOKINGS}/{booking_id}", json={"reason": "Room flooded"}, headers=host.auth)
    assert r.status_code == 200
    worker()
    for name in ("ann", "ben"):
        [message] = sent_to(mailbox, f"{name}@example.com")
        assert "Room flooded" in message.get_body(("plain",)).get_content()
        [(method, _)] = calendars(mailbox, f"{name}@example.com")
        assert method == "CANCEL"


def test_seats_take_each_their_own_reminders(client, host, make_type, db):
    make_type(seats=3)
    start = at(local_day(DAY), "10:00")
    for name in ("ann", "ben"):
        booked(client, start, name=name.title(), email=f"{name}@example.com")
    assert count(db, "SELECT count(*) FROM email_outbox WHERE template = 'GUEST_REMINDER'") == 4
    assert count(db, "SELECT count(*) FROM email_outbox WHERE template = 'BOOKING_REMINDER'") == 2


# Policy

def test_notices_hold_guests_a_minute_inside_them_and_never_the_host(client, host, make_type, travel):
    make_type(cancel_notice=120, reschedule_notice=24 * 60)
    day = local_day(DAY)
    start = at(day, "10:00")
    mine = booked(client, start)
    path = f"{GUEST}/{mine['manage_token']}"
    shown = client.get(path).json["booking"]
    assert (shown["can_cancel"], shown["can_reschedule"]) == (True, True)
    travel(start - timedelta(minutes=24 * 60 - 1) - clock.now())
    shown = client.get(path).json["booking"]
    assert (shown["can_reschedule"], shown["why_not"]["reschedule"], shown["can_cancel"]) == (False, "notice", True)
    r = client.post(f"{path}/reschedule", json={"start": at(day, "11:00").isoformat()})
    assert r.status_code == 409 and "1 day" in r.json["error"]
    assert client.get(f"{path}/slots").status_code == 409
    travel(start - timedelta(minutes=119) - clock.now())
    r = client.post(f"{path}/cancel", json={})
    assert r.status_code == 409 and "2 hours" in r.json["error"]
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    assert client.patch(f"{BOOKINGS}/{booking_id}", json={"start": at(day, "12:00").isoformat(),
                                                          "end": at(day, "12:30").isoformat()},
                        headers=host.auth).status_code == 200
    assert client.delete(f"{BOOKINGS}/{booking_id}", query_string={"reason": "Sorry"},
                         headers=host.auth).status_code == 200


def test_a_cancellation_reason_reaches_guest_attendees_and_webhook(client, alice, bob, org_of, worker, mailbox,
                                                                   receiver, subscribe, webhook_worker):
    org_of(alice, bob)
    hook = receiver()
    subscribe(alice, hook.url, events=["booking.cancelled"])
    start = clock.now().replace(microsecond=0) + timedelta(days=3)
    made = client.post(BOOKINGS, json={"title": "Sync", "start": start.isoformat(),
                                       "end": (start + timedelta(minutes=30)).isoformat(), "attendees": [bob.id]},
                       headers=alice.auth).json["booking"]
    worker()
    mailbox.clear()
    assert client.delete(f"{BOOKINGS}/{made['id']}", query_string={"reason": "Moved to Friday"},
                         headers=alice.auth).status_code == 200
    worker()
    [message] = sent_to(mailbox, bob.email)
    assert "Moved to Friday" in message.get_body(("plain",)).get_content()
    webhook_worker()
    [request] = hook.received()
    event = json.loads(request.body)
    assert event["type"] == "booking.cancelled" and event["reason"] == "Moved to Friday"


# No-shows

def test_no_show_only_after_the_start_and_only_for_someone_it_has(client, host, register, make_type, travel, db):
    make_type()
    start = at(local_day(DAY), "10:00")
    booked(client, start)
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    path = f"{BOOKINGS}/{booking_id}/no-show"
    r = client.post(path, json={"who": "guest"}, headers=host.auth)
    assert r.status_code == 409 and "not started" in r.json["error"]
    travel(start + timedelta(minutes=5) - clock.now())
    r = client.post(path, json={"who": "guest"}, headers=host.auth)
    assert r.status_code == 200 and r.json["booking"]["no_show"] == {"guest": True, "user_ids": []}
    assert client.post(path, json={"who": 999999}, headers=host.auth).status_code == 400
    assert client.post(path, json={"who": "nobody"}, headers=host.auth).status_code == 400
    assert client.post(path, json={"who": host.id, "seat_id": 1}, headers=host.auth).status_code == 400
    undone = client.post(path, json={"who": "guest", "no_show": False}, headers=host.auth).json["booking"]
    assert undone["no_show"]["guest"] is False
    own = client.post(BOOKINGS, json={"title": "Solo", "start": (clock.now() + timedelta(hours=1)).isoformat(),
                                      "end": (clock.now() + timedelta(hours=2)).isoformat()}, headers=host.auth).json
    travel(timedelta(hours=1, minutes=1))
    r = client.post(f"{BOOKINGS}/{own['booking']['id']}/no-show", json={"who": "guest"}, headers=host.auth)
    assert r.status_code == 400 and "no guest" in r.json["error"]
    marked = client.post(f"{BOOKINGS}/{own['booking']['id']}/no-show", json={"who": host.id}, headers=host.auth)
    assert marked.json["booking"]["no_show"] == {"guest": False, "user_ids": [host.id]}


def test_a_no_show_is_in_sync_and_webhooks(client, host, make_type, travel, receiver, subscribe, webhook_worker):
    make_type(seats=3)
    hook = receiver()
    subscribe(host, hook.url, events=["booking.no_show"])
    start = at(local_day(DAY), "10:00")
    booked(client, start, name="Ann", email="ann@example.com")
    [booking] = client.get(BOOKINGS, headers=host.auth).json
    seat_id = booking["seats"]["guests"][0]["id"]
    travel(start + timedelta(minutes=10) - clock.now())
    token = client.get(f"{BOOKINGS}/sync", headers=host.auth).json["next_token"]
    path = f"{BOOKINGS}/{booking['id']}/no-show"
    assert client.post(path, json={"who": "guest"}, headers=host.auth).status_code == 400
    r = client.post(path, json={"who": "guest", "seat_id": seat_id}, headers=host.auth)
    assert r.status_code == 200 and r.json["booking"]["seats"]["guests"][0]["no_show"] is True
    synced = client.get(f"{BOOKINGS}/sync", query_string={"token": token}, headers=host.auth)
    assert synced.status_code == 200, synced.json
    [changed] = synced.json["bookings"]
    assert changed["seats"]["guests"][0]["no_show"] is True
    webhook_worker()
    [request] = hook.received()
    event = json.loads(request.body)
    assert event["type"] == "booking.no_show" and event["who"] == {"seat_id": seat_id}


# Team links

def test_a_team_request_goes_to_its_round_robin_host_who_alone_confirms_it(client, team, make_team_type):
    owner, org, hosts = team
    make_team_type(requires_confirmation=True)
    r = team_book(client, at(local_day(DAY), "10:00"))
    assert r.status_code == 201 and r.json["booking"]["status"] == "pending"
    taker = next(h for h in hosts if h.name == r.json["assignment"]["host"]["name"])
    [pending] = client.get(BOOKINGS, query_string={"status": "pending"}, headers=taker.auth).json
    other = next(h for h in hosts if h is not taker)
    assert client.post(f"{BOOKINGS}/{pending['id']}/confirm", headers=other.auth).status_code == 404
    assert client.post(f"{BOOKINGS}/{pending['id']}/confirm", headers=taker.auth).status_code == 200


def test_a_collective_teams_seats_are_one_booking_all_hosts_attend(client, team, make_team_type):
    owner, org, hosts = team
    make_team_type(kind="collective", seats=2)
    start = at(local_day(DAY), "10:00")
    assert team_book(client, start).status_code == 201
    assert team_book(client, start, name="Other", email="other@example.com").status_code == 201
    assert team_book(client, start, name="Third", email="third@example.com").status_code == 409
    [booking] = client.get(BOOKINGS, headers=hosts[0].auth).json
    assert booking["seats"]["taken"] == 2 and len(booking["attendees"]) == 3


def test_a_collective_host_cannot_step_out_of_a_seated_booking(client, team, make_team_type):
    owner, org, hosts = team
    make_team_type(kind="collective", seats=3)
    assert team_book(client, at(local_day(DAY), "10:00")).status_code == 201
    [booking] = client.get(BOOKINGS, headers=hosts[1].auth).json
    r = client.patch(f"{BOOKINGS}/{booking['id']}/attendance", json={"status": "declined"}, headers=hosts[1].auth)
    assert r.status_code == 409


def test_a_guest_cancels_only_the_later_occurrences_still_outside_the_notice(client, host, make_type):
    make_type(max_occurrences=3, cancel_notice=18 * 24 * 60)
    first = booked(client, at(local_day(DAY), "10:00"), recurrence={"freq": "weekly", "count": 3})
    path = f"{GUEST}/{first['manage_token']}"
    shown = client.get(path).json["booking"]
    assert (shown["can_cancel"], shown["later"]) == (False, 1)
    r = client.post(f"{path}/cancel", json={"scope": "following"})
    assert r.status_code == 200 and [b["occurrence"] for b in r.json["bookings"]] == [3]
    assert [b["status"] for b in client.get(BOOKINGS, headers=host.auth).json] == ["confirmed", "confirmed",
                                                                                  "cancelled"]


# Found by trying it as a newcomer

def test_renaming_a_seated_booking_with_a_scope_keeps_its_seats_reminders(client, host, make_type, db):
    make_type(seats=3)
    for name in ("ann", "ben"):
        booked(client, at(local_day(DAY), "10:00"), name=name.title(), email=f"{name}@example.com")
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    live = "SELECT count(*) FROM email_outbox WHERE template = 'GUEST_REMINDER' AND status = 'pending'"
    assert count(db, live) == 4
    r = client.patch(f"{BOOKINGS}/{booking_id}", query_string={"scope": "all"}, json={"title": "Yoga"},
                     headers=host.auth)
    assert r.status_code == 200
    assert count(db, live) == 4


def test_a_seat_given_up_is_cancelled_with_a_higher_sequence(client, host, make_type, worker, mailbox):
    make_type(seats=3)
    ann = booked(client, at(local_day(DAY), "10:00"), name="Ann", email="ann@example.com")
    booked(client, at(local_day(DAY), "10:00"), name="Ben", email="ben@example.com")
    client.post(f"{GUEST}/{ann['manage_token']}/cancel", json={})
    worker()
    [(invited, invitation), (cancelled, cancellation)] = calendars(mailbox, "ann@example.com")
    assert (invited, cancelled) == ("REQUEST", "CANCEL")
    assert int(cancellation["SEQUENCE"]) > int(invitation["SEQUENCE"])


def test_a_request_answers_409_to_a_scoped_cancel_or_rename(client, host, make_type):
    requests_type(make_type)
    booked(client, at(local_day(DAY), "10:00"))
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    for scope in ("following", "all"):
        r = client.delete(f"{BOOKINGS}/{booking_id}", query_string={"scope": scope}, headers=host.auth)
        assert r.status_code == 409 and "confirm or decline" in r.json["error"]
        r = client.patch(f"{BOOKINGS}/{booking_id}", query_string={"scope": scope}, json={"title": "T"},
                         headers=host.auth)
        assert r.status_code == 409 and "confirm or decline" in r.json["error"]


def test_no_show_refuses_a_seat_of_another_booking_or_one_given_up(client, host, make_type, travel):
    make_type()
    make_type(slug="class", seats=3)
    start = at(local_day(DAY), "10:00")
    booked(client, start)
    ann = booked(client, start + timedelta(hours=2), link="hana/class", name="Ann", email="ann@example.com")
    booked(client, start + timedelta(hours=2), link="hana/class", name="Ben", email="ben@example.com")
    client.post(f"{GUEST}/{ann['manage_token']}/cancel", json={})
    plain, seated = sorted(client.get(BOOKINGS, headers=host.auth).json, key=lambda b: b["start_time"])
    ann_seat = next(s["id"] for s in seated["seats"]["guests"] if s["name"] == "Ann")
    travel(start + timedelta(hours=3) - clock.now())
    r = client.post(f"{BOOKINGS}/{plain['id']}/no-show", json={"who": "guest", "seat_id": ann_seat}, headers=host.auth)
    assert r.status_code == 400 and "seat_id" in r.json["fields"]
    r = client.post(f"{BOOKINGS}/{seated['id']}/no-show", json={"who": "guest", "seat_id": ann_seat},
                    headers=host.auth)
    assert r.status_code == 400 and "seat_id" in r.json["fields"]


def test_a_bad_who_is_one_clear_field_error(client, host, make_type):
    make_type()
    booked(client, at(local_day(DAY), "10:00"))
    booking_id = client.get(BOOKINGS, headers=host.auth).json[0]["id"]
    for who in ("host", None, "1", 0, 1.5, [1]):
        r = client.post(f"{BOOKINGS}/{booking_id}/no-show", json={"who": who}, headers=host.auth)
        assert r.status_code == 400 and r.json["fields"] == {"who": 'must be "guest" or a user id'}, (who, r.json)


def test_a_requests_deadline_is_in_the_hosts_zone_and_in_the_guests_view(client, host, make_type, set_profile):
    set_profile(host, timezone="Asia/Tokyo")
    requests_type(make_type)
    mine = booked(client, at(local_day(DAY), "01:00"), timezone="America/New_York")
    [note] = [n for n in client.get("/api/v1/notifications", headers=host.auth).json if n["type"] == "GUEST_REQUESTED"]
    assert "Asia/Tokyo" in note["message"] and "+00:00" not in note["message"]
    shown = client.get(f"{GUEST}/{mine['manage_token']}").json["booking"]
    assert shown["expires_at"].endswith("-05:00") and shown["expires_at"] == mine["booking"]["expires_at"]


def test_a_withdrawn_request_says_so_and_keeps_no_deadline(client, host, make_type, worker, mailbox):
    requests_type(make_type)
    mine = booked(client, at(local_day(DAY), "10:00"))
    client.post(f"{GUEST}/{mine['manage_token']}/cancel", json={})
    assert client.get(BOOKINGS, headers=host.auth).json[0]["expires_at"] is None
    worker()
    assert sent_to(mailbox, "gus@example.com")[-1]["Subject"] == "Request withdrawn: Intro call with Hana"
    assert sent_to(mailbox, host.email)[-1]["Subject"] == "Request withdrawn: Intro call with Gus Guest"


def test_rescheduling_closes_with_the_cancel_notice(client, host, make_type, travel):
    """Moving gives up the time booked: a guest can't get round a cancel notice by moving first."""
    make_type(cancel_notice=24 * 60, reschedule_notice=120)
    day = local_day(DAY)
    mine = booked(client, at(day, "10:00"))
    travel(at(day, "10:00") - timedelta(hours=20) - clock.now())
    shown = client.get(f"{GUEST}/{mine['manage_token']}").json["booking"]
    assert shown["why_not"] == {"cancel": "notice", "reschedule": "notice"}
    assert shown["reschedule_until"] == shown["cancel_until"]
    r = client.post(f"{GUEST}/{mine['manage_token']}/reschedule", json={"start": at(day + timedelta(days=2),
                                                                                     "10:00").isoformat()})
    assert r.status_code == 409 and "1 day" in r.json["error"]


def test_a_request_can_be_withdrawn_inside_the_cancel_notice(client, host, make_type, set_profile):
    set_profile(host, working_hours={day: [{"start": "00:00", "end": "24:00"}]
                                     for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    requests_type(make_type, cancel_notice=24 * 60, minimum_notice=0)
    start = (clock.now() + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    mine = booked(client, start)
    assert client.get(f"{GUEST}/{mine['manage_token']}").json["booking"]["can_cancel"] is True
    assert client.post(f"{GUEST}/{mine['manage_token']}/cancel", json={}).status_code == 200


def test_a_request_past_its_time_is_expired_to_its_guest_before_the_sweep(client, host, make_type, travel):
    requests_type(make_type, confirmation_hours=1)
    mine = booked(client, at(local_day(DAY), "10:00"))
    travel(timedelta(hours=1, seconds=1))
    shown = client.get(f"{GUEST}/{mine['manage_token']}").json["booking"]
    assert shown["why_not"]["cancel"] == "expired"
    assert client.post(f"{GUEST}/{mine['manage_token']}/cancel", json={}).status_code == 409
