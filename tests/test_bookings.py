import threading
from datetime import datetime

import pytest

from helpers import YEAR, at, slot
from scheduler.context import transaction
from scheduler.repositories import bookings

BOOKINGS = "/api/v1/bookings"


def create(client, user, body):
    return client.post(BOOKINGS, json=body, headers=user.auth)



GUEST = {"event_type_id": None, "location": "Room 4", "buffer_before": 10, "buffer_after": 5, "guest_name": "Gus",
         "guest_email": "gus@example.com", "guest_timezone": "Europe/Paris", "guest_notes": "hi",
         "guest_token_hash": "hash", "guest_token_salt": "salt"}


@pytest.mark.parametrize("guest", [{}, GUEST], ids=["own", "guest"])
def test_a_booking_as_written_is_the_booking_as_read(app, alice, bob, guest):
    """insert_booking (sql/functions.sql) spells out what COLUMNS and INTERNAL read: they agree."""
    with app.app_context(), transaction() as cur:
        booking, recipients = bookings.create(cur, owner_id=bob.id, title="Same", invitee_ids=[alice.id],
                                              start=datetime.fromisoformat(at("09:00")),
                                              end=datetime.fromisoformat(at("10:00")), **guest)
        read = bookings.find_visible(cur, booking["id"], bob.id)
        assert booking == {key: value for key, value in read.items() if key != "attendees"}
        assert recipients == bookings.recipients(cur, booking["id"])
    # An invitee has yet to answer; a guest booking's other attendees are a team's hosts, who
    # accepted by offering the type.
    invitee = "accepted" if guest else "needs-action"
    assert [p["status"] for p in recipients] == (["accepted", invitee] if bob.id < alice.id else [invitee, "accepted"])

def test_booking_lifecycle(client, alice):
    r = create(client, alice, slot("09:00", "09:30", title="Standup"))
    assert r.status_code == 201
    booking = r.json["booking"]
    assert booking["status"] == "confirmed" and booking["user_id"] == alice.id
    assert set(booking) == {"id", "user_id", "title", "start_time", "end_time", "status", "created_at", "updated_at",
                            "attendees", "event_type_id", "location", "guest", "series_id", "occurrence", "expires_at",
                            "seats", "no_show"}
    assert (booking["event_type_id"], booking["location"], booking["guest"]) == (None, None, None)
    assert booking["attendees"] == [{"user_id": alice.id, "name": "Alice", "email": alice.email, "status": "accepted"}]
    assert booking["start_time"].endswith("+00:00")

    assert [b["id"] for b in client.get(BOOKINGS, headers=alice.auth).json] == [booking["id"]]
    assert client.get(f"{BOOKINGS}/{booking['id']}", headers=alice.auth).json["title"] == "Standup"

    up = client.patch(f"{BOOKINGS}/{booking['id']}", json={"title": "Daily"}, headers=alice.auth)
    assert up.status_code == 200 and up.json["booking"]["title"] == "Daily"

    gone = client.delete(f"{BOOKINGS}/{booking['id']}", headers=alice.auth)
    assert gone.status_code == 200 and gone.json["booking"]["status"] == "cancelled"
    assert client.delete(f"{BOOKINGS}/{booking['id']}", headers=alice.auth).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"start": at("01:00"), "end": at("02:00")}, "title"),
    ({"title": "No end", "start": at("01:00")}, "end"),
    ({"title": "Bad date", "start": "tomorrow", "end": at("02:00")}, "start"),
    ({"title": "Number", "start": 1893456000, "end": at("02:00")}, "start"),
    ({"title": "Date only", "start": f"{YEAR}-01-01", "end": at("02:00")}, "start"),
    ({"title": "Past", "start": "2020-01-01T10:00:00Z", "end": "2020-01-01T11:00:00Z"}, "start"),
    ({"title": "Backwards", "start": at("02:00"), "end": at("01:00")}, "end"),
    ({"title": "Empty", "start": at("01:00"), "end": at("01:00")}, "end"),
    ({"title": "", "start": at("01:00"), "end": at("02:00")}, "title"),
    ({"title": ["not", "text"], "start": at("01:00"), "end": at("02:00")}, "title"),
    ({"title": "t" * 256, "start": at("01:00"), "end": at("02:00")}, "title"),
    ({"title": "Year 3000 in UTC", "start": "2999-12-31T20:00:00-10:00", "end": "2999-12-31T21:00:00-10:00"}, "start"),
    ({"title": "Past 2999 in UTC", "start": "2999-12-31T22:00:00", "end": "2999-12-31T23:00:00",
      "timezone": "Pacific/Honolulu"}, "start"),
])
def test_booking_rejects_bad_input(client, alice, db, body, field):
    r = create(client, alice, body)
    assert r.status_code == 400
    assert field in r.json["fields"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings")
        assert cur.fetchone()[0] == 0


def test_offsets_are_honoured_and_no_offset_means_utc(client, alice):
    r = create(client, alice, {"title": "Offset", "start": f"{YEAR}-03-01T09:00:00+02:00", "end": f"{YEAR}-03-01T10:00:00+02:00"})
    assert r.json["booking"]["start_time"] == f"{YEAR}-03-01T07:00:00+00:00"
    r = create(client, alice, {"title": "Naive", "start": f"{YEAR}-03-02T09:00:00", "end": f"{YEAR}-03-02T10:00:00"})
    assert r.json["booking"]["start_time"] == f"{YEAR}-03-02T09:00:00+00:00"


def test_overlap_is_409_touching_is_fine(client, alice, bob):
    first = create(client, alice, slot("10:00", "11:00"))
    assert first.status_code == 201
    clash = create(client, alice, slot("10:30", "11:30"))
    assert clash.status_code == 409 and "overlap" in clash.json["error"]
    assert create(client, alice, slot("11:00", "12:00")).status_code == 201
    assert create(client, bob, slot("10:00", "11:00")).status_code == 201
    client.delete(f"{BOOKINGS}/{first.json['booking']['id']}", headers=alice.auth)
    assert create(client, alice, slot("10:30", "11:00")).status_code == 201


def test_refused_overlap_writes_nothing(client, alice, db):
    create(client, alice, slot("10:00", "11:00"))
    create(client, alice, slot("10:15", "10:45"))
    with db.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM notifications),"
                    " (SELECT count(*) FROM email_outbox WHERE template = 'BOOKING_CONFIRMATION'),"
                    " (SELECT count(*) FROM booking_attendees)")
        assert cur.fetchone() == (1, 1, 1, 1)


def test_parallel_overlapping_creates_exactly_one_wins(app, alice):
    statuses, barrier = [], threading.Barrier(12, timeout=10)

    def attempt(i):
        client = app.test_client()
        barrier.wait()
        r = client.post(BOOKINGS, json=slot("14:00", f"15:{i:02d}", title=f"race {i}"), headers=alice.auth)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert sorted(statuses) == [201] + [409] * 11


def test_partial_update_keeps_start_before_end(client, alice):
    b = create(client, alice, slot("13:00", "14:00")).json["booking"]
    r = client.patch(f"{BOOKINGS}/{b['id']}", json={"start": at("15:00")}, headers=alice.auth)
    assert r.status_code == 400 and "end" in r.json["fields"]


def test_update_needs_a_field(client, alice):
    b = create(client, alice, slot("13:00", "14:00")).json["booking"]
    assert client.patch(f"{BOOKINGS}/{b['id']}", json={}, headers=alice.auth).status_code == 400


def test_update_into_an_overlap_is_409_and_changes_nothing(client, alice):
    create(client, alice, slot("09:00", "10:00"))
    b = create(client, alice, slot("11:00", "12:00")).json["booking"]
    r = client.patch(f"{BOOKINGS}/{b['id']}", json={"start": at("09:30"), "title": "moved"}, headers=alice.auth)
    assert r.status_code == 409
    assert client.get(f"{BOOKINGS}/{b['id']}", headers=alice.auth).json["title"] == "Meeting"


def test_moving_a_booking_notifies_but_renaming_does_not(client, alice):
    b = create(client, alice, slot("09:00", "10:00")).json["booking"]
    client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "Renamed"}, headers=alice.auth)
    client.patch(f"{BOOKINGS}/{b['id']}", json={"end": at("10:30")}, headers=alice.auth)
    types = [n["type"] for n in client.get("/api/v1/notifications", headers=alice.auth).json]
    assert sorted(types) == ["BOOKING_CONFIRMED", "BOOKING_UPDATED"]


def test_cancelled_booking_cannot_be_changed(client, alice):
    b = create(client, alice, slot("09:00", "10:00")).json["booking"]
    client.delete(f"{BOOKINGS}/{b['id']}", headers=alice.auth)
    assert client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "again"}, headers=alice.auth).status_code == 409


def test_other_peoples_bookings_are_404(client, alice, bob):
    b = create(client, alice, slot("16:00", "17:00", title="Private")).json["booking"]
    assert client.get(f"{BOOKINGS}/{b['id']}", headers=bob.auth).status_code == 404
    assert client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "Mine"}, headers=bob.auth).status_code == 404
    assert client.delete(f"{BOOKINGS}/{b['id']}", headers=bob.auth).status_code == 404
    assert client.get(BOOKINGS, headers=bob.auth).json == []
    assert client.get(f"{BOOKINGS}/{b['id']}", headers=alice.auth).json["title"] == "Private"


@pytest.mark.parametrize("path", ["/0", "/-1", "/abc", "/99999999999999999999999"])
def test_impossible_ids_are_404(client, alice, path):
    r = client.get(BOOKINGS + path, headers=alice.auth)
    assert r.status_code == 404 and r.json["error"]
