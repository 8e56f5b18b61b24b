"""Reminders through the outbox, with a controllable clock and a real RQ worker."""

from datetime import timedelta

import pytest

from scheduler import clock
from scheduler.delivery import emails as delivery

BOOKINGS = "/api/v1/bookings"


def hours_from_now(hours):
    return (clock.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


def book(client, user, start_hours, length_hours=1, **extra):
    start = hours_from_now(start_hours)
    body = {"title": "Call", "start": start.isoformat(), "end": (start + timedelta(hours=length_hours)).isoformat()}
    r = client.post(BOOKINGS, json=body | extra, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json["booking"]


def reminders_sent(mailbox, to=None):
    return [m for m in mailbox.received() if "Reminder:" in m["Subject"] and (to is None or m["To"] == to)]


@pytest.fixture
def quiet(worker, mailbox):
    """Sends what is already due (welcome, confirmations), then starts counting afresh."""
    def settle():
        runtime = worker()
        mailbox.clear()
        return runtime
    return settle


def run_due(worker):
    runtime = worker()
    due = delivery.sweep(runtime)
    worker()
    return due


def test_a_reminder_goes_out_once_when_due(client, alice, set_profile, quiet, worker, mailbox, travel):
    set_profile(alice, reminders=[60])
    booking = book(client, alice, 3)
    quiet()
    assert run_due(worker) == [] and reminders_sent(mailbox) == []

    travel(timedelta(hours=2, seconds=1))
    assert len(run_due(worker)) == 1
    [reminder] = reminders_sent(mailbox)
    assert reminder["To"] == alice.email and "Call" in reminder["Subject"]
    notes = client.get("/api/v1/notifications", headers=alice.auth).json
    assert [n["metadata"] for n in notes if n["type"] == "BOOKING_REMINDER"] == [{"booking_id": booking["id"]}]

    travel(timedelta(hours=1))
    assert run_due(worker) == [] and len(reminders_sent(mailbox)) == 1


def test_each_offset_fires_at_its_own_time(client, alice, quiet, worker, mailbox, travel):
    book(client, alice, 30)  # default offsets: 24 h and 1 h before
    quiet()
    travel(timedelta(hours=6, minutes=1))
    run_due(worker)
    assert len(reminders_sent(mailbox)) == 1
    travel(timedelta(hours=23))
    run_due(worker)
    assert len(reminders_sent(mailbox)) == 2


def test_moving_a_booking_moves_its_reminders(client, alice, set_profile, quiet, worker, mailbox, travel):
    set_profile(alice, reminders=[60])
    booking = book(client, alice, 3)
    later = hours_from_now(5)
    client.patch(f"{BOOKINGS}/{booking['id']}", json={"start": later.isoformat(),
                                                     "end": (later + timedelta(hours=1)).isoformat()},
                 headers=alice.auth)
    quiet()
    travel(timedelta(hours=2, minutes=1))
    run_due(worker)
    assert reminders_sent(mailbox) == []
    travel(timedelta(hours=2))
    run_due(worker)
    assert len(reminders_sent(mailbox)) == 1


def test_cancelling_voids_reminders(client, alice, set_profile, quiet, worker, mailbox, travel, db):
    set_profile(alice, reminders=[60])
    booking = book(client, alice, 3)
    client.delete(f"{BOOKINGS}/{booking['id']}", headers=alice.auth)
    quiet()
    travel(timedelta(hours=2, minutes=1))
    run_due(worker)
    assert reminders_sent(mailbox) == []
    with db.cursor() as cur:
        cur.execute("SELECT status FROM email_outbox WHERE reminder_minutes IS NOT NULL")
        assert cur.fetchall() == [("void",)]


def test_a_reminder_already_past_at_booking_time_is_never_sent(client, alice, set_profile, db):
    set_profile(alice, reminders=[120, 30])
    book(client, alice, 1)
    with db.cursor() as cur:
        cur.execute("SELECT reminder_minutes FROM email_outbox WHERE reminder_minutes IS NOT NULL")
        assert cur.fetchall() == [(30,)]


def test_attendees_get_their_own_reminders_unless_they_decline(client, alice, bob, register, org_of, set_profile,
                                                                 quiet, worker, mailbox, travel):
    carol = register("Carol")
    org_of(alice, bob, carol)
    set_profile(bob, reminders=[30])
    booking = book(client, alice, 3, attendees=[bob.id, carol.id])
    client.patch(f"{BOOKINGS}/{booking['id']}/attendance", json={"status": "declined"}, headers=carol.auth)
    quiet()
    travel(timedelta(hours=2, minutes=31))
    run_due(worker)
    assert sorted(m["To"] for m in reminders_sent(mailbox)) == sorted([alice.email, bob.email])


def test_a_title_change_does_not_send_a_second_reminder(client, alice, set_profile, quiet, worker, mailbox, travel):
    set_profile(alice, reminders=[60])
    booking = book(client, alice, 3)
    quiet()
    travel(timedelta(hours=2, minutes=1))
    run_due(worker)
    client.patch(f"{BOOKINGS}/{booking['id']}", json={"title": "Renamed"}, headers=alice.auth)
    run_due(worker)
    assert len(reminders_sent(mailbox)) == 1


def test_several_sweeps_and_workers_send_each_reminder_once(client, alice, set_profile, quiet, worker, mailbox, travel):
    set_profile(alice, reminders=[60])
    book(client, alice, 3)
    runtime = quiet()
    travel(timedelta(hours=2, minutes=1))
    delivery.sweep(runtime)
    travel(timedelta(minutes=5))
    delivery.sweep(runtime)
    worker()
    worker()
    assert len(reminders_sent(mailbox)) == 1
