"""Races over people's calendars: writers that share people queue in one lock order, so every
answer is a success or a 409, fast, and the database never holds two overlapping confirmed
commitments of one person. Bounded: a few dozen requests per test, every wait has a timeout."""

import random
import threading
import time

import psycopg2
import pytest

from tests.helpers import at, slot

FAST = 1.0  # seconds: the most any one answer may take
OVERLAPS = """
    SELECT count(*) FROM booking_attendees a JOIN booking_attendees b
      ON a.user_id = b.user_id AND a.booking_id < b.booking_id
     AND tstzrange(a.start_time, a.end_time) && tstzrange(b.start_time, b.end_time)
    WHERE a.confirmed AND b.confirmed AND a.status <> 'declined' AND b.status <> 'declined'
"""


def at_once(app, calls):
    """Sends every (method, path, body, headers) at the same moment, each from its own thread
    and client; returns [(status, seconds, json)] in the order given."""
    barrier = threading.Barrier(len(calls), timeout=10)
    answers = [None] * len(calls)

    def send(index, method, path, body, headers):
        client = app.test_client()
        barrier.wait()
        started = time.monotonic()
        r = client.open(path, method=method, json=body, headers=headers)
        answers[index] = (r.status_code, time.monotonic() - started, r.json)

    threads = [threading.Thread(target=send, args=(i, *call), daemon=True) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(a is not None for a in answers), "a request did not answer within 30 s"
    return answers


def assert_orderly(answers, allowed):
    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= allowed, statuses
    slowest = max(seconds for _, seconds, _ in answers)
    assert slowest < FAST, f"slowest answer took {slowest:.2f} s"


def no_overlaps(db):
    with db.cursor() as cur:
        cur.execute(OVERLAPS)
        return cur.fetchone()[0] == 0


def booking(client, user, body):
    r = client.post("/api/v1/bookings", json=body, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json["booking"]["id"]


def test_two_organizers_with_one_shared_attendee(app, register, org_of, db):
    first, second, shared = register("First"), register("Second"), register("Shared")
    org_of(first, second, shared)
    body = slot("10:00", "11:00") | {"attendees": [shared.email]}
    answers = at_once(app, [("POST", "/api/v1/bookings", body, organizer.auth)
                            for organizer in [first, second] * 6])
    assert_orderly(answers, {201, 409})
    assert [status for status, _, _ in answers].count(201) == 1
    assert all(a["conflicts"] for status, _, a in answers if status == 409)
    assert no_overlaps(db)


def test_parallel_swaps_of_two_bookings(app, client, register, org_of, db):
    alice, guest = register("Alice"), register("Guest")
    org_of(alice, guest)
    for day in range(3):
        early = booking(client, alice, slot("09:00", "10:00", day=day) | {"attendees": [guest.email]})
        late = booking(client, alice, slot("10:00", "11:00", day=day))
        swap = [("PATCH", f"/api/v1/bookings/{early}", {"start": at("10:00", day), "end": at("11:00", day)}),
                ("PATCH", f"/api/v1/bookings/{late}", {"start": at("09:00", day), "end": at("10:00", day)})]
        answers = at_once(app, [(method, path, body, alice.auth) for method, path, body in swap * 3])
        assert_orderly(answers, {200, 409})
        assert no_overlaps(db)


def test_many_writers_over_a_few_people(app, client, register, org_of, db):
    rng = random.Random(8)
    people = [register(name) for name in ("Ann", "Ben", "Cat", "Dan")]
    org_of(*people)
    slots = [("09:00", "10:00"), ("09:30", "10:30"), ("10:00", "11:00"), ("09:45", "10:15")]
    existing = [(people[0], booking(client, people[0], slot("12:00", "13:00") | {"attendees": [p.email for p in people[1:]]}))]
    for _ in range(3):
        calls = []
        for _ in range(16):
            writer = rng.choice(people)
            start, end = rng.choice(slots)
            action = rng.random()
            if action < 0.5 or not existing:
                others = rng.sample([p for p in people if p is not writer], rng.randint(0, 3))
                calls.append(("POST", "/api/v1/bookings",
                              slot(start, end) | {"attendees": [p.email for p in others]}, writer.auth))
            elif action < 0.75:
                owner, booking_id = rng.choice(existing)
                calls.append(("PATCH", f"/api/v1/bookings/{booking_id}",
                              {"start": at(start), "end": at(end)}, owner.auth))
            elif action < 0.85:
                owner, booking_id = rng.choice(existing)
                calls.append(("DELETE", f"/api/v1/bookings/{booking_id}", None, owner.auth))
            else:
                owner, booking_id = rng.choice(existing)
                attendee = rng.choice([p for p in people if p is not owner])
                calls.append(("PATCH", f"/api/v1/bookings/{booking_id}/attendance",
                              {"status": rng.choice(["accepted", "declined"])}, attendee.auth))
        answers = at_once(app, calls)
        # 404: a booking already cancelled, or an attendance answer from someone not invited.
        assert_orderly(answers, {200, 201, 404, 409})
        owners = {p.auth["Authorization"]: p for p in people}
        existing += [(owners[call[3]["Authorization"]], answer["booking"]["id"])
                     for call, (status, _, answer) in zip(calls, answers) if status == 201]
        assert no_overlaps(db)


# A person's lock held past DB_LOCK_TIMEOUT (2 s by default) by one transaction is a stuck
# holder: its waiters get a 503 within two of those, not the statement timeout's 15 s. A queue
# of brief holders is waited out, however long it takes in all.
LOCK_TIMEOUT = 2


@pytest.mark.direct
def test_a_stuck_holder_of_a_persons_lock_costs_others_a_quick_503(client, alice, db):
    with db.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (alice.id,))  # held as a stuck transaction would
    try:
        started = time.monotonic()
        r = client.post("/api/v1/bookings", json=slot("10:00", "11:00"), headers=alice.auth)
        waited = time.monotonic() - started
    finally:
        with db.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (alice.id,))
    assert r.status_code == 503 and r.headers["Retry-After"] == "2" and r.json["retry_after"] == 2, r.json
    assert LOCK_TIMEOUT <= waited < 2 * LOCK_TIMEOUT + 1.5, f"waited {waited:.2f} s"
    assert client.post("/api/v1/bookings", json=slot("10:00", "11:00"), headers=alice.auth).status_code == 201


def test_a_queue_for_one_persons_lock_longer_than_the_timeout_never_fails(database_url, alice):
    """30 writers of Alice's calendar that each hold her lock 0.1 s: the last waits 3 s in all,
    more than DB_LOCK_TIMEOUT, behind holders that each come and go; none is refused."""
    writers, hold = 30, 0.1
    barrier = threading.Barrier(writers, timeout=10)
    failures, finished = [], []

    def write():
        conn = psycopg2.connect(database_url)
        try:
            barrier.wait()
            with conn, conn.cursor() as cur:
                cur.execute("SELECT lock_people(%s::bigint[])", ([alice.id],))
                time.sleep(hold)
            finished.append(time.monotonic())
        except psycopg2.Error as exc:
            failures.append(exc.pgcode)
        finally:
            conn.close()

    threads = [threading.Thread(target=write, daemon=True) for _ in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == [] and len(finished) == writers
    assert max(finished) - started > LOCK_TIMEOUT + 0.5  # the queue did outlast the timeout
