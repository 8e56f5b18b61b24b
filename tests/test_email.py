"""Emails go through the outbox and a real RQ worker to a real SMTP server."""

import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from rq.job import Job, JobStatus

from conftest import Mailbox, free_port
from helpers import YEAR, slot
from scheduler import create_app, jobs
from scheduler.delivery import emails as delivery
from scheduler.mail.templates import render
from scheduler.runtime import worker_runtime


def outbox_rows(db):
    with db.cursor() as cur:
        cur.execute("SELECT id, template, status, attempts, last_error FROM email_outbox ORDER BY id")
        return cur.fetchall()


def test_welcome_email_is_delivered_by_the_worker(client, mailbox, worker, db):
    client.post("/api/v1/auth/register", json={"name": "Dana", "email": "dana@example.com", "password": "secure123"})
    assert mailbox.received() == []
    worker()
    [message] = mailbox.received()
    assert message["To"] == "dana@example.com"
    assert message["Subject"] == "Welcome to Scheduler, Dana"
    assert message["From"] == "Scheduler <noreply@scheduler.test>"
    assert "Hi Dana" in message.get_body(("plain",)).get_content()
    assert "<p>Hi Dana,</p>" in message.get_body(("html",)).get_content()
    assert [row[2] for row in outbox_rows(db)] == ["sent"]


def test_booking_emails_for_create_move_and_cancel(client, alice, mailbox, worker):
    b = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Review"), headers=alice.auth).json["booking"]
    client.patch(f"/api/v1/bookings/{b['id']}", json={"title": "Renamed only"}, headers=alice.auth)
    client.patch(f"/api/v1/bookings/{b['id']}", json={"end": slot("09:00", "10:30")["end"]}, headers=alice.auth)
    client.delete(f"/api/v1/bookings/{b['id']}", headers=alice.auth)
    worker()
    subjects = sorted(m["Subject"] for m in mailbox.received() if m["To"] == alice.email)
    assert subjects == ["Booking cancelled: Renamed only", "Booking confirmed: Review", "Booking moved: Renamed only",
                        "Welcome to Scheduler, Alice"]


def test_a_series_is_one_email_with_one_calendar_event_that_repeats(client, alice, mailbox, worker):
    body = slot("09:00", "10:00", title="Coaching") | {"recurrence": {"freq": "weekly", "count": 6}}
    made = client.post("/api/v1/bookings", json=body, headers=alice.auth).json
    client.delete(f"/api/v1/bookings/{made['bookings'][2]['id']}", headers=alice.auth)
    worker()
    cancelled, confirmed = (m for m in sorted(mailbox.received(), key=lambda m: m["Subject"])
                            if m["Subject"].startswith(("Series confirmed", "Booking cancelled")))
    assert confirmed["Subject"] == "Series confirmed: Coaching"
    assert "every week, 6 times" in confirmed.get_body(("plain",)).get_content()
    first = next(p for p in confirmed.iter_attachments() if p.get_content_type() == "text/calendar").get_content()
    assert "RRULE:FREQ=WEEKLY;COUNT=6;INTERVAL=1" in first and "EXDATE" not in first
    # One occurrence cancelled updates the series (it gets an EXDATE) instead of cancelling it.
    later = next(p for p in cancelled.iter_attachments() if p.get_content_type() == "text/calendar").get_content()
    assert "METHOD:REQUEST" in later and "EXDATE" in later and "RRULE" in later


def test_cancelling_the_rest_of_a_series_says_how_much_is_left(client, alice, mailbox, worker):
    body = slot("09:00", "10:00", title="Coaching") | {"recurrence": {"freq": "weekly", "count": 6}}
    made = client.post("/api/v1/bookings", json=body, headers=alice.auth).json
    client.delete(f"/api/v1/bookings/{made['bookings'][4]['id']}?scope=following", headers=alice.auth)
    worker()
    [message] = [m for m in mailbox.received() if m["Subject"].startswith("Occurrences cancelled")]
    assert message["Subject"] == "Occurrences cancelled: Coaching"
    assert "2 occurrences of this series, from the one below on, cancelled; it is now every week, 4 of 6 times" \
        in " ".join(message.get_body(("plain",)).get_content().split())


def test_org_invite_email(client, alice, bob, mailbox, worker):
    org = client.post("/api/v1/organizations", json={"name": "Crew"}, headers=alice.auth).json["organization"]
    client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": bob.email}, headers=alice.auth)
    worker()
    [invite] = [m for m in mailbox.received() if m["Subject"].startswith("You have been added")]
    assert invite["To"] == bob.email and "Alice added you to Crew as member" in invite.get_body(("plain",)).get_content()


def test_user_text_is_escaped_in_html_and_cannot_add_headers(client, alice, mailbox, worker, db):
    """The API refuses line breaks in titles; a title stored before that rule still can't add
    a header (the booking's move re-reads it from its row)."""
    title = 'Hi <script>alert(1)</script>\r\nBcc: victim@example.com'
    r = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title=title), headers=alice.auth)
    assert r.status_code == 400 and "title" in r.json["fields"]
    booking = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Hi <script>alert(1)</script>"),
                          headers=alice.auth).json["booking"]
    with db.cursor() as cur:
        cur.execute("UPDATE bookings SET title = %s WHERE id = %s", (title, booking["id"]))
    db.commit()
    moved = slot("11:00", "12:00")
    client.patch(f"/api/v1/bookings/{booking['id']}", json={"start": moved["start"], "end": moved["end"]},
                 headers=alice.auth)
    worker()
    for subject in ("Booking confirmed", "Booking moved"):
        [message] = [m for m in mailbox.received() if subject in m["Subject"]]
        assert message["Bcc"] is None
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        html = message.get_body(("html",)).get_content()
        assert "<script>" not in html and "&lt;script&gt;" in html


def test_rolled_back_change_sends_nothing(client, alice, mailbox, worker, db):
    client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth)
    refused = client.post("/api/v1/bookings", json=slot("09:30", "10:30", title="Clash"), headers=alice.auth)
    assert refused.status_code == 409
    worker()
    assert not any("Clash" in m["Subject"] for m in mailbox.received())
    assert [row[1] for row in outbox_rows(db)] == ["WELCOME", "BOOKING_CONFIRMATION", "BOOKING_REMINDER",
                                                   "BOOKING_REMINDER"]


def test_a_job_delivered_twice_sends_once(client, alice, mailbox, worker, redis_conn, db):
    """Two more drains, and a job of the row alone as emails were queued before drains."""
    mailbox.clear()
    [(email_id, *_)] = outbox_rows(db)
    jobs.drain_emails(redis_conn)
    jobs.drain_emails(redis_conn)
    jobs.enqueue(jobs.email_queue(redis_conn), jobs.DELIVER, lambda row_id: f"email-{row_id}", [email_id])
    worker()
    assert len(mailbox.received()) == 1


def test_commits_while_a_drain_is_queued_enqueue_no_other(client, register, worker, redis_conn, mailbox):
    for name in ("Ann", "Ben", "Cat"):
        register(name)
    assert redis_conn.llen("rq:queue:emails") == 1
    worker()
    assert len(mailbox.received()) == 3
    register("Dan")
    assert redis_conn.llen("rq:queue:emails") == 1
    worker()
    assert len(mailbox.received()) == 4


@pytest.mark.parametrize("job", ["drain", "one row"])
def test_two_workers_racing_send_once(client, alice, settings, mailbox, worker, db, job):
    worker()
    mailbox.clear()
    rows = outbox_rows(db)
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0")
    barrier = threading.Barrier(4, timeout=10)

    def run():
        barrier.wait()
        delivery.drain() if job == "drain" else delivery.deliver(rows[0][0])
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert len(mailbox.received()) == 1


def test_delivery_after_a_redis_outage(settings, redis_conn, mailbox, worker, db):
    down = create_app(settings.replace(redis_url="redis://127.0.0.1:1/0"))
    r = down.test_client().post("/api/v1/auth/register",
                                json={"name": "Eve", "email": "eve@example.com", "password": "secure123"})
    down.extensions["runtime"].db.close()
    assert r.status_code == 201
    assert redis_conn.llen("rq:queue:emails") == 0
    rt = worker()
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET created_at = now() - interval '1 minute'")
    assert len(delivery.sweep(rt)) == 1
    worker()
    assert [m["To"] for m in mailbox.received()] == ["eve@example.com"]
    assert delivery.sweep(rt) == []


def test_failures_are_retried_then_marked_failed(client, alice, settings, worker, db, mailbox):
    rt = worker()
    [(email_id, *_)] = outbox_rows(db)
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0 WHERE id = %s", (email_id,))
    rt.mail_provider.port = 1  # nothing listens there: every attempt fails
    attempts = []
    for _ in range(settings.email_retry_attempts):
        with db.cursor() as cur:
            cur.execute("UPDATE email_outbox SET send_after = now() WHERE id = %s", (email_id,))
        delivery.deliver(email_id)
        attempts.append(outbox_rows(db)[0][2:4])
    assert attempts == [("pending", 1), ("pending", 2), ("failed", 3)]
    assert "ConnectionRefusedError" in outbox_rows(db)[0][4]


def test_retry_waits_for_its_backoff(client, alice, worker, db):
    rt = worker()
    [(email_id, *_)] = outbox_rows(db)
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0 WHERE id = %s", (email_id,))
    rt.mail_provider.port = 1
    delivery.deliver(email_id)
    delivery.deliver(email_id)
    assert outbox_rows(db)[0][2:4] == ("pending", 1)


@pytest.mark.parametrize("name", ["WELCOME", "BOOKING_CONFIRMATION", "BOOKING_UPDATED", "BOOKING_CANCELLED", "ORG_INVITE"])
def test_every_template_has_subject_text_and_html(name):
    payload = {"name": "N", "title": "T", "start": f"{YEAR}-01-01T09:00:00+00:00", "end": f"{YEAR}-01-01T10:00:00+00:00",
               "booking_id": 1, "organization": "O", "role": "member", "invited_by": "I", "reason": "R"}
    rendered = render(name, payload)
    assert rendered.subject and rendered.text and rendered.html.startswith("<!doctype html>")
    if name.startswith("BOOKING"):
        assert f"Start: Wed, 1 Jan {YEAR}, 09:00 UTC" in rendered.text


def test_email_goes_to_the_address_the_person_has_now(client, alice, register, set_profile, worker, mailbox, travel):
    """A reminder written while Alice had her old address goes to her new one, not to whoever
    registered the old one since."""
    old_address = alice.email
    set_profile(alice, reminders=[60])
    booking = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Review"), headers=alice.auth)
    assert booking.status_code == 201
    set_profile(alice, email="alice-new@example.com")
    register("Mallory", email=old_address)
    worker()
    travel(timedelta(days=31))
    delivery.sweep(worker_runtime())
    worker()
    sent = [(m["To"], m["Subject"]) for m in mailbox.received()]
    assert ("alice-new@example.com", "Booking confirmed: Review") in sent
    assert ("alice-new@example.com", "Reminder: Review") in sent
    assert [subject for to, subject in sent if to == old_address] == ["Welcome to Scheduler, Mallory"]


def test_a_reminder_queued_days_ahead_reaches_and_greets_the_attendee_as_they_are_now(
        client, alice, bob, org_of, register, set_profile, worker, mailbox, travel):
    org_of(alice, bob)
    set_profile(bob, reminders=[60])
    booking = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Review") | {"attendees": [bob.email]},
                          headers=alice.auth)
    assert booking.status_code == 201
    worker()
    mailbox.clear()
    old_address = bob.email
    set_profile(bob, email="bob-moved@example.com", name="Robert")
    register("Mallory", email=old_address)
    travel(timedelta(days=31))
    delivery.sweep(worker_runtime())
    worker()
    [reminder] = [m for m in mailbox.received() if m["To"] == "bob-moved@example.com"]
    assert reminder["Subject"] == "Reminder: Review"
    assert reminder.get_body(("plain",)).get_content().startswith("Hi Robert,")
    assert [m["Subject"] for m in mailbox.received() if m["To"] == old_address] == ["Welcome to Scheduler, Mallory"]


def test_an_invitation_to_an_organisation_names_the_inviter_as_they_are_now(client, alice, bob, set_profile, mailbox,
                                                                           worker):
    org = client.post("/api/v1/organizations", json={"name": "Crew"}, headers=alice.auth).json["organization"]
    client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": bob.email}, headers=alice.auth)
    set_profile(alice, name="Alicia")
    worker()
    [invite] = [m for m in mailbox.received() if m["Subject"].startswith("You have been added")]
    assert "Alicia added you to Crew as member" in invite.get_body(("plain",)).get_content()


@pytest.mark.parametrize("job", ["drain", "one row"])
def test_a_long_wait_for_a_send_slot_never_lets_another_worker_send_the_row_too(client, alice, worker, mailbox, db,
                                                                             monkeypatch, travel, job):
    """Many workers sharing a low EMAIL_RATE_LIMIT can wait minutes for a slot. Had the row been
    claimed first, its lease would run out meanwhile, another worker would retake it, and both
    would send."""
    worker()
    mailbox.clear()
    [(email_id, *_)] = outbox_rows(db)
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0")
    waited = []

    def long_wait(rt):
        if not waited:
            waited.append(True)
            travel(timedelta(seconds=delivery.LEASE_SECONDS + 1))
            delivery.drain()  # another worker, meanwhile
    monkeypatch.setattr(delivery, "wait_for_send_slot", long_wait)
    delivery.drain() if job == "drain" else delivery.deliver(email_id)
    assert len(mailbox.received()) == 1


def test_a_send_is_recorded_through_a_database_outage_and_never_repeated(client, alice, worker, mailbox, db,
                                                                        cut_database, travel):
    rt = worker()
    mailbox.clear()
    client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Once"), headers=alice.auth)
    mailbox.on_message = lambda envelope: cut_database(1.5)
    worker()
    mailbox.on_message = None
    assert [m["Subject"] for m in mailbox.received()] == ["Booking confirmed: Once"]
    with db.cursor() as cur:
        cur.execute("SELECT status FROM email_outbox WHERE template = 'BOOKING_CONFIRMATION'")
        assert cur.fetchone() == ("sent",)
    travel(timedelta(seconds=delivery.LEASE_SECONDS + 1))
    assert delivery.sweep(rt) == []
    worker()
    assert len(mailbox.received()) == 1


def test_a_drain_of_a_worker_asked_to_stop_leaves_the_rest_to_another(client, register, worker, redis_conn, mailbox):
    rt = worker()
    for name in ("Ann", "Ben"):
        register(name)
    redis_conn.delete("rq:queue:emails")  # the stopping worker has taken their drain
    rt.stopping.set()
    try:
        delivery.drain()
    finally:
        rt.stopping.clear()
    assert mailbox.received() == [] and redis_conn.llen("rq:queue:emails") == 1
    worker()
    assert len(mailbox.received()) == 2


def test_the_sweep_enqueues_one_drain_for_rows_nobody_took_and_not_again_soon(client, register, worker, redis_conn,
                                                                              mailbox, db):
    for name in ("Ann", "Ben", "Cat"):
        register(name)
    redis_conn.delete("rq:queue:emails")  # their drain was lost
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET created_at = now() - interval '1 minute'")
    assert len(delivery.sweep(worker_runtime())) == 3
    assert delivery.sweep(worker_runtime()) == []
    assert redis_conn.llen("rq:queue:emails") == 1
    worker()
    assert len(mailbox.received()) == 3


def test_the_sweep_retakes_a_row_whose_worker_died_mid_send(client, alice, worker, redis_conn, mailbox, db):
    """The drain of a worker killed mid-send is gone, and RQ still calls it 'started'; the row's
    expired lease says it is dead."""
    [(email_id, *_)] = outbox_rows(db)
    [job_id] = jobs.email_queue(redis_conn).job_ids
    Job.fetch(job_id, connection=redis_conn).set_status(JobStatus.STARTED)
    redis_conn.delete("rq:queue:emails")
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'sending', attempts = 1, created_at = now() - interval '1 hour',"
                    " locked_until = now() - interval '1 second'")
    assert delivery.sweep(worker_runtime()) == [email_id]
    worker()
    assert [m["To"] for m in mailbox.received()] == [alice.email]


def test_a_row_committed_while_a_drain_makes_its_last_look_is_sent_by_that_drain(client, register, worker, redis_conn,
                                                                                 mailbox, monkeypatch):
    """The commit finds the flag still set, so it enqueues no drain: the one making its last
    look must see the row."""
    last_look = jobs.last_look
    committed = []

    def commit_first(connection):
        if not committed:
            committed.append(register("Late"))
            assert redis_conn.llen("rq:queue:emails") == 0
        last_look(connection)
    ann = register("Ann")
    monkeypatch.setattr(jobs, "last_look", commit_first)
    worker()
    assert sorted(m["To"] for m in mailbox.received()) == sorted([ann.email, committed[0].email])
    assert redis_conn.llen("rq:queue:emails") == 0


def test_a_row_the_worker_cannot_read_fails_alone_and_the_drain_goes_on(client, worker, mailbox, db):
    """A row first in line that the worker cannot render must not stop every drain behind it."""
    worker()
    with db.cursor() as cur:
        cur.execute("INSERT INTO email_outbox (recipient, template, payload, send_after)"
                    " VALUES ('odd@example.com', 'BOOKING_INVITATION', '{\"ics\": \"not an invitation\"}',"
                    " now() - interval '1 minute')")
    client.post("/api/v1/auth/register", json={"name": "Dana", "email": "dana@example.com", "password": "secure123"})
    worker()
    assert [m["To"] for m in mailbox.received()] == ["dana@example.com"]
    with db.cursor() as cur:
        cur.execute("SELECT status, attempts, last_error FROM email_outbox WHERE recipient = 'odd@example.com'")
        status, attempts, error = cur.fetchone()
    assert status in ("pending", "failed") and attempts >= 1 and error.startswith("TypeError")


def test_a_worker_whose_clock_runs_behind_sends_a_fresh_row_at_once(client, worker, mailbox, travel):
    """A fresh row is due by the database's clock, which stamped it."""
    travel(timedelta(minutes=-2))
    client.post("/api/v1/auth/register", json={"name": "Dana", "email": "dana@example.com", "password": "secure123"})
    worker()
    assert [m["To"] for m in mailbox.received()] == ["dana@example.com"]


class RudeGoodbye(Mailbox):
    async def handle_QUIT(self, server, session, envelope):
        return "554 no goodbye"


def test_a_message_the_server_accepted_counts_as_sent_even_if_its_goodbye_fails(client, alice, worker, db):
    rt = worker()
    [(email_id, *_)] = outbox_rows(db)
    with db.cursor() as cur:
        cur.execute("UPDATE email_outbox SET status = 'pending', attempts = 0")
    box, port = RudeGoodbye(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rt.mail_provider.port = port
        delivery.deliver(email_id)
    finally:
        controller.stop()
    assert len(box.received()) == 1
    assert outbox_rows(db)[0][2:4] == ("sent", 1)
