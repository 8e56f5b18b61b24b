import threading

import pytest

from helpers import YEAR

BOOKINGS = "/api/v1/bookings"


def book(client, user, start=f"{YEAR}-07-01T10:00:00Z", end=f"{YEAR}-07-01T11:00:00Z", attendees=(), title="Sync"):
    return client.post(BOOKINGS, json={"title": title, "start": start, "end": end, "attendees": list(attendees)},
                       headers=user.auth)


@pytest.fixture
def team(alice, bob, register, org_of):
    carol = register("Carol")
    org_of(alice, bob, carol)
    return alice, bob, carol


def test_attendees_by_email_or_id_see_it_and_are_notified(client, team):
    alice, bob, carol = team
    r = book(client, alice, attendees=[bob.email.upper(), carol.id, alice.id])
    assert r.status_code == 201, r.json
    people = {a["user_id"]: a["status"] for a in r.json["booking"]["attendees"]}
    assert people == {alice.id: "accepted", bob.id: "needs-action", carol.id: "needs-action"}
    for user in (bob, carol):
        assert [b["id"] for b in client.get(BOOKINGS, headers=user.auth).json] == [r.json["booking"]["id"]]
        assert client.get(f"{BOOKINGS}/{r.json['booking']['id']}", headers=user.auth).status_code == 200
        assert "BOOKING_INVITATION" in [n["type"] for n in client.get("/api/v1/notifications", headers=user.auth).json]


@pytest.mark.parametrize("who", ["stranger", "unknown", "unknown_id"])
def test_only_people_sharing_an_organization_can_be_invited(client, team, register, db, who):
    alice = team[0]
    stranger = register("Stranger")
    value = {"stranger": stranger.email, "unknown": "nobody@example.com", "unknown_id": 999999}[who]
    r = book(client, alice, attendees=[value])
    assert r.status_code == 400
    assert r.json["error"] == "Attendees must be people who share an organization with you"
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings")
        assert cur.fetchone()[0] == 0


@pytest.mark.parametrize("value, message", [("not-an-email", "must be a valid email address"),
                                            (0, "must be a user id or an e-mail address"),
                                            (2.5, "must be a user id or an e-mail address"),
                                            (True, "must be a user id or an e-mail address")])
def test_bad_attendees_are_named_by_position(client, team, value, message):
    r = book(client, team[0], attendees=[team[1].id, value])
    assert r.status_code == 400 and r.json["fields"] == {"attendees.1": message}


def test_a_busy_attendee_makes_it_409_naming_them_and_the_slot(client, team):
    alice, bob, carol = team
    book(client, bob, f"{YEAR}-07-01T10:30:00Z", f"{YEAR}-07-01T11:30:00Z", title="Bob's own")
    r = book(client, alice, attendees=[bob.id, carol.id])
    assert r.status_code == 409
    assert r.json["conflicts"] == [{"user_id": bob.id, "name": "Bob", "email": bob.email,
                                    "start_time": f"{YEAR}-07-01T10:30:00+00:00", "end_time": f"{YEAR}-07-01T11:30:00+00:00"}]
    assert "Bob's own" not in str(r.json)


def test_an_invitation_blocks_the_attendee_until_declined(client, team):
    alice, bob, _ = team
    meeting = book(client, alice, attendees=[bob.id]).json["booking"]
    assert book(client, bob, f"{YEAR}-07-01T10:15:00Z", f"{YEAR}-07-01T10:45:00Z").status_code == 409
    r = client.patch(f"{BOOKINGS}/{meeting['id']}/attendance", json={"status": "declined"}, headers=bob.auth)
    assert r.status_code == 200
    assert {a["user_id"]: a["status"] for a in r.json["booking"]["attendees"]}[bob.id] == "declined"
    assert book(client, bob, f"{YEAR}-07-01T10:15:00Z", f"{YEAR}-07-01T10:45:00Z").status_code == 201
    again = client.patch(f"{BOOKINGS}/{meeting['id']}/attendance", json={"status": "accepted"}, headers=bob.auth)
    assert again.status_code == 409 and again.json["conflicts"][0]["user_id"] == bob.id


def test_attendance_answers_are_validated_and_reach_the_booker(client, team):
    alice, bob, carol = team
    meeting = book(client, alice, attendees=[bob.id]).json["booking"]
    path = f"{BOOKINGS}/{meeting['id']}/attendance"
    assert client.patch(path, json={"status": "maybe"}, headers=bob.auth).status_code == 400
    assert client.patch(path, json={"status": "declined"}, headers=alice.auth).status_code == 400
    assert client.patch(path, json={"status": "accepted"}, headers=carol.auth).status_code == 404
    assert client.patch(path, json={"status": "accepted"}, headers=bob.auth).status_code == 200
    assert "ATTENDANCE_UPDATED" in [n["type"] for n in client.get("/api/v1/notifications", headers=alice.auth).json]


def test_only_the_booker_edits_or_cancels(client, team):
    alice, bob, carol = team
    meeting = book(client, alice, attendees=[bob.id]).json["booking"]
    assert client.patch(f"{BOOKINGS}/{meeting['id']}", json={"title": "x"}, headers=bob.auth).status_code == 403
    assert client.delete(f"{BOOKINGS}/{meeting['id']}", headers=bob.auth).status_code == 403
    assert client.patch(f"{BOOKINGS}/{meeting['id']}", json={"title": "x"}, headers=carol.auth).status_code == 404
    assert client.delete(f"{BOOKINGS}/{meeting['id']}", headers=alice.auth).status_code == 200


def test_moving_into_an_attendees_commitment_is_409(client, team):
    alice, bob, _ = team
    book(client, bob, f"{YEAR}-07-01T14:00:00Z", f"{YEAR}-07-01T15:00:00Z")
    meeting = book(client, alice, attendees=[bob.id]).json["booking"]
    r = client.patch(f"{BOOKINGS}/{meeting['id']}", json={"start": f"{YEAR}-07-01T14:30:00Z", "end": f"{YEAR}-07-01T15:30:00Z"},
                     headers=alice.auth)
    assert r.status_code == 409 and [c["user_id"] for c in r.json["conflicts"]] == [bob.id]
    assert client.get(f"{BOOKINGS}/{meeting['id']}", headers=alice.auth).json["start_time"] == f"{YEAR}-07-01T10:00:00+00:00"


def test_cancelling_frees_every_attendee(client, team):
    alice, bob, _ = team
    meeting = book(client, alice, attendees=[bob.id]).json["booking"]
    client.delete(f"{BOOKINGS}/{meeting['id']}", headers=alice.auth)
    assert book(client, bob).status_code == 201


def test_parallel_bookers_cannot_double_book_a_shared_attendee(app, team, register, org_of):
    alice, bob, carol = team
    others = [register(f"Booker{i}") for i in range(6)]
    org_of(bob, *others)
    bookers = [alice, carol, *others]
    statuses, barrier = [], threading.Barrier(len(bookers), timeout=10)

    def attempt(i, user):
        client = app.test_client()
        barrier.wait()
        r = book(client, user, f"{YEAR}-07-01T10:00:00Z", f"{YEAR}-07-01T11:{i:02d}:00Z", attendees=[bob.id])
        statuses.append(r.status_code)

    threads = [threading.Thread(target=attempt, args=(i, u)) for i, u in enumerate(bookers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert sorted(statuses) == [201] + [409] * (len(bookers) - 1)
