"""Bookings written back to people's CalDAV calendars (docs/calendars.md, "Writing bookings
back"), against a real Radicale (tests/caldav_server.py) and real RQ workers: what each change leaves
in whose calendar, catching up after the server was down, and that no request waits for it."""

import time
from datetime import datetime
from urllib.parse import unquote

import pytest
from icalendar import Calendar

from helpers import at, slot, wait_until, worker_process
from scheduler import clock
from scheduler.repositories import calendar_writes
from scheduler.sealing import CALENDAR_PASSWORD
from tests.booking_links import book, host, make_type, local_day  # noqa: F401  (fixtures)
from tests.booking_links import at as local_at

BOOKINGS = "/api/v1/bookings"


@pytest.fixture
def connect(db, settings, radicale):
    """Gives a user a CalDAV calendar on the test Radicale that bookings are written to (as the
    calendars API would store it: the password sealed); returns the collection's URL."""
    def make(user, write_to=None, password=None):
        write_to = write_to or radicale.make_calendar(f"user-{user.id}")
        sealed = settings.secret_keys.seal_text(password or radicale.password, CALENDAR_PASSWORD)
        with db.cursor() as cur:
            cur.execute(
                """
                INSERT INTO calendars (user_id, kind, name, url, username, password_sealed, write_to)
                VALUES (%s, 'caldav', 'Work', %s, %s, %s, %s)
                """, (user.id, radicale.url, radicale.user, sealed, write_to))
        return write_to
    return make


def booked(client, user, body=None, **extra):
    r = client.post(BOOKINGS, json=(body or slot("10:00", "11:00", title="Planning")) | extra, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json["booking"]


def our_uid(client, user, booking_id):
    """The UID of the booking in our own .ics."""
    r = client.get(f"{BOOKINGS}/{booking_id}/ics", headers=user.auth)
    return str(Calendar.from_ical(r.data).walk("VEVENT")[0]["UID"])


def held(radicale, calendar):
    """{UID: VEVENT} of what the calendar holds, each at <collection>/<UID>.ics."""
    events = {}
    for url, event in radicale.events(calendar).items():
        uid = str(event["UID"])
        assert unquote(url) == f"{calendar}{uid}.ics"
        events[uid] = event
    return events


def times(event):
    return event["DTSTART"].dt, event["DTEND"].dt


def instant(iso):
    return datetime.fromisoformat(iso)


def rows(db):
    with db.cursor() as cur:
        cur.execute("SELECT status, held, version, attempts, last_error FROM calendar_writes ORDER BY id")
        return cur.fetchall()


def test_a_new_booking_appears_in_its_owners_calendar_under_our_uid(client, alice, connect, radicale,
                                                                     calendar_worker, db):
    calendar = connect(alice)
    booking = booked(client, alice)
    calendar_worker()
    uid = our_uid(client, alice, booking["id"])
    event = held(radicale, calendar)[uid]
    assert str(event["SUMMARY"]) == "Planning" and event["SEQUENCE"] == 0
    assert times(event) == (instant(at("10:00")), instant(at("11:00")))
    assert str(event["ORGANIZER"]) == f"mailto:{alice.email}"
    # The server keeps the copy; the service sends the invitations (RFC 6638).
    assert event["ORGANIZER"].params["SCHEDULE-AGENT"] == "CLIENT"
    assert rows(db) == [("written", True, 1, 1, None)]


def test_a_move_keeps_the_uid_with_a_higher_sequence_and_the_new_times(client, alice, connect, radicale,
                                                                       calendar_worker):
    calendar = connect(alice)
    booking = booked(client, alice)
    calendar_worker()
    r = client.patch(f"{BOOKINGS}/{booking['id']}", json={"start": at("14:00"), "end": at("15:30")},
                     headers=alice.auth)
    assert r.status_code == 200
    calendar_worker()
    [(uid, event)] = held(radicale, calendar).items()
    assert uid == our_uid(client, alice, booking["id"])
    assert event["SEQUENCE"] == 1
    assert times(event) == (instant(at("14:00")), instant(at("15:30")))


def test_a_rename_is_written(client, alice, connect, radicale, calendar_worker):
    calendar = connect(alice)
    booking = booked(client, alice)
    calendar_worker()
    assert client.patch(f"{BOOKINGS}/{booking['id']}", json={"title": "Retro"}, headers=alice.auth).status_code == 200
    calendar_worker()
    [event] = held(radicale, calendar).values()
    assert str(event["SUMMARY"]) == "Retro" and event["SEQUENCE"] == 1


def test_a_cancelled_booking_is_removed(client, alice, connect, radicale, calendar_worker, db):
    calendar = connect(alice)
    kept, cancelled = booked(client, alice), booked(client, alice, slot("12:00", "13:00", title="Lunch"))
    calendar_worker()
    assert len(held(radicale, calendar)) == 2
    assert client.delete(f"{BOOKINGS}/{cancelled['id']}", headers=alice.auth).status_code == 200
    calendar_worker()
    assert list(held(radicale, calendar)) == [our_uid(client, alice, kept["id"])]
    assert [(status, kept) for status, kept, *_ in rows(db)] == [("written", True), ("written", False)]


def test_an_invitee_who_declines_leaves_only_their_own_calendar(client, alice, bob, org_of, connect, radicale,
                                                                  calendar_worker, db):
    org_of(alice, bob)
    alices, bobs = connect(alice), connect(bob)
    booking = booked(client, alice, attendees=[bob.id])
    calendar_worker()
    uid = our_uid(client, alice, booking["id"])
    assert list(held(radicale, alices)) == list(held(radicale, bobs)) == [uid]
    r = client.patch(f"{BOOKINGS}/{booking['id']}/attendance", json={"status": "declined"}, headers=bob.auth)
    assert r.status_code == 200
    calendar_worker()
    assert held(radicale, bobs) == {}
    # The organiser's copy stays, and shows the answer.
    [bob_there] = [a for a in held(radicale, alices)[uid].get("ATTENDEE") if str(a) == f"mailto:{bob.email}"]
    assert bob_there.params["PARTSTAT"] == "DECLINED"
    # Later changes reach the organiser's calendar; bob's, which is not to hold it, is left alone.
    assert client.patch(f"{BOOKINGS}/{booking['id']}", json={"title": "Retro"}, headers=alice.auth).status_code == 200
    assert [(kept, version) for _, kept, version, *_ in rows(db)] == [(True, 3), (False, 2)]


def test_a_guest_booking_through_a_link_is_written_to_the_hosts_calendar(client, host, make_type, connect,
                                                                         radicale, calendar_worker):
    calendar = connect(host)
    make_type()
    start = local_at(local_day(), "10:00")
    r = book(client, start, name="Gus Guest", email="gus@example.com")
    assert r.status_code == 201, r.json
    calendar_worker()
    [event] = held(radicale, calendar).values()
    assert str(event["SUMMARY"]) == "Intro call" and event["DTSTART"].dt == start
    assert "mailto:gus@example.com" in [str(a) for a in event.get("ATTENDEE")]


def test_nobody_without_a_write_to_calendar_gets_a_row(client, alice, bob, org_of, connect, db):
    org_of(alice, bob)
    connect(bob)
    with db.cursor() as cur:
        cur.execute("UPDATE calendars SET write_to = NULL")  # bob reads his calendar, writes nothing there
    booked(client, alice, attendees=[bob.id])
    assert rows(db) == []


def test_a_refused_password_is_kept_on_the_row_without_credentials(client, alice, connect, calendar_worker, db,
                                                                    radicale):
    connect(alice, password="not-the-password")
    booked(client, alice)
    calendar_worker()
    [(status, _, _, attempts, error)] = rows(db)
    assert (status, attempts, error) == ("pending", 1, "HTTP 401")


def test_an_event_already_at_its_address_is_replaced(client, alice, connect, radicale, calendar_worker, db):
    """A calendar connected again (a new row, the same collection) creates with If-None-Match: *,
    finds the event there (412), and replaces it."""
    calendar = connect(alice)
    booking = booked(client, alice)
    calendar_worker()
    with db.cursor() as cur:
        cur.execute("DELETE FROM calendars")
    connect(alice, write_to=calendar)
    assert client.patch(f"{BOOKINGS}/{booking['id']}", json={"title": "Retro"}, headers=alice.auth).status_code == 200
    calendar_worker()
    [event] = held(radicale, calendar).values()
    assert str(event["SUMMARY"]) == "Retro"
    assert rows(db) == [("written", True, 1, 1, None)]


def test_a_change_that_overtakes_a_write_in_flight_is_written_after_it(client, alice, connect, calendar_worker, db,
                                                                        radicale, settings):
    calendar = connect(alice)
    booking = booked(client, alice)
    rt = calendar_worker()
    assert client.patch(f"{BOOKINGS}/{booking['id']}", json={"title": "Retro"}, headers=alice.auth).status_code == 200
    with rt.db.transaction() as cur:
        cur.execute("SELECT id FROM calendar_writes")
        [write_id] = [row["id"] for row in cur.fetchall()]
        claimed = calendar_writes.claim(cur, write_id, now=clock.now(), lease_seconds=300)
    # While that write (version 2) is in flight, the booking moves (version 3): the row stays
    # the in-flight job's, and recording version 2 leaves it due.
    assert client.patch(f"{BOOKINGS}/{booking['id']}", json={"start": at("15:00"), "end": at("16:00")},
                        headers=alice.auth).status_code == 200
    with rt.db.transaction() as cur:
        assert calendar_writes.claim(cur, write_id, now=clock.now(), lease_seconds=300) is None
        assert calendar_writes.mark_written(cur, claimed, on_server=True) == "pending"
    calendar_worker()
    [event] = held(radicale, calendar).values()
    assert event["SEQUENCE"] == 2 and times(event)[0] == instant(at("15:00"))


def test_a_calendar_that_was_down_catches_up_when_it_returns(client, alice, connect, radicale, settings, smtp_server,
                                                              db):
    calendar = connect(alice)
    worker = worker_process(settings.database_url, settings.redis_url, smtp_server[1],
                            WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_RETRY_SCHEDULE=",".join(["1"] * 20))
    try:
        gone_later = booked(client, alice, slot("08:00", "09:00", title="Standup"))
        assert wait_until(lambda: len(held(radicale, calendar)) == 1)
        radicale.stop()
        renamed = booked(client, alice, slot("10:00", "11:00", title="Planning"))
        moved = booked(client, alice, slot("12:00", "13:00", title="Lunch"))
        never = booked(client, alice, slot("14:00", "15:00", title="Review"))
        for booking, change in [(renamed, {"title": "Roadmap"}), (moved, {"start": at("16:00"), "end": at("17:00")})]:
            assert client.patch(f"{BOOKINGS}/{booking['id']}", json=change, headers=alice.auth).status_code == 200
        for booking in (gone_later, never):
            assert client.delete(f"{BOOKINGS}/{booking['id']}", headers=alice.auth).status_code == 200
        # The removal of the first and the two changes failed at least once while it was down.
        assert wait_until(lambda: sum(1 for *_, error in rows(db) if error) >= 3, 10), rows(db)
        radicale.start()

        def caught_up():
            events = held(radicale, calendar)
            return {str(e["SUMMARY"]): (e["SEQUENCE"], times(e)[0]) for e in events.values()} == {
                "Roadmap": (1, instant(at("10:00"))), "Lunch": (1, instant(at("16:00")))}
        assert wait_until(caught_up, 30), held(radicale, calendar)
        assert wait_until(lambda: all(status == "written" for status, *_ in rows(db)), 10), rows(db)
    finally:
        worker.terminate()
        worker.wait(20)


def test_a_hung_calendar_server_delays_neither_the_booking_nor_emails(client, register, connect, hung_listener,
                                                                      settings, smtp_server, mailbox):
    alice = register("Alice")
    hung = hung_listener()
    connect(alice, write_to=hung.url)
    started = time.monotonic()
    booked(client, alice)
    took = time.monotonic() - started
    assert hung.accepted == 0, "the request reached for the calendar server"
    assert took < 1, f"the booking took {took:.2f} s"
    worker = worker_process(settings.database_url, settings.redis_url, smtp_server[1],
                            WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_TIMEOUT="30", CALENDAR_WRITE_CONCURRENCY="1")
    try:
        assert wait_until(lambda: hung.accepted == 1), "the calendar write was not tried"
        mailbox.clear()
        bob = register("Bob")
        assert wait_until(lambda: any(m["To"] == bob.email for m in mailbox.received())), \
            "the welcome email waited for the hung calendar server"
        assert hung.open == 1  # still hanging: the email went out meanwhile
    finally:
        worker.terminate()
        worker.wait(20)
