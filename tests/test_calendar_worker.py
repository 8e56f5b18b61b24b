"""worker.py as real processes refreshing calendars: each due calendar is read by one worker,
and the owner of a calendar that fails three times in a row hears of it once, in the app and
by email (the tests' SMTP server)."""

import time

import pytest

from helpers import wait_until, worker_process
from test_calendars_api import connect, feed


def make_due(db, calendar_id=None):
    with db.cursor() as cur:
        cur.execute("UPDATE calendars SET next_refresh_at = now() WHERE %s::bigint IS NULL OR id = %s",
                    (calendar_id, calendar_id))


def state(db, calendar_id):
    with db.cursor() as cur:
        cur.execute("SELECT status, failures, busy_count FROM calendars WHERE id = %s", (calendar_id,))
        return cur.fetchone()


@pytest.fixture
def calendar_worker(settings, smtp_server):
    started = []

    def start():
        started.append(worker_process(settings.database_url, settings.redis_url, smtp_server[1],
                                      EGRESS_ALLOW_PRIVATE="true", EMAIL_FROM="Scheduler <noreply@scheduler.test>"))
    yield start
    for worker in started:
        worker.terminate()
        worker.wait(20)


def test_the_third_failure_in_a_row_tells_the_owner_once(client, alice, feeds, db, mailbox, calendar_worker):
    calendar = connect(client, alice, feeds.serve("/cal.ics", feed(1, 3, name="Team")))
    feeds.serve("/cal.ics", status=503)
    calendar_worker()

    def fail(times):
        for _ in range(times):
            failures = state(db, calendar["id"])[1]
            make_due(db, calendar["id"])
            assert wait_until(lambda: state(db, calendar["id"])[1] == failures + 1), "the worker did not refresh"

    fail(2)
    assert state(db, calendar["id"]) == ("error", 2, 2)
    fail(1)
    assert wait_until(lambda: told(mailbox, alice))
    [email] = told(mailbox, alice)
    assert email["Subject"] == "Calendar not updating: Team"
    assert "the server answered HTTP 503" in email.get_body(("plain",)).get_content()
    notes = client.get("/api/v1/notifications", headers=alice.auth).json
    assert [(n["type"], n["title"]) for n in notes] == [("CALENDAR_FAILING", "Calendar not updating: Team")]
    assert n_busy(db, calendar["id"]) == 2  # the last good busy times are kept

    fail(2)  # the 4th and 5th failures tell no one
    feeds.serve("/cal.ics", feed(1))
    make_due(db, calendar["id"])
    assert wait_until(lambda: state(db, calendar["id"]) == ("ok", 0, 1))
    feeds.serve("/cal.ics", status=503)
    fail(2)
    assert len(client.get("/api/v1/notifications", headers=alice.auth).json) == 1
    assert len(told(mailbox, alice)) == 1


def told(mailbox, user):
    return [m for m in mailbox.received() if m["To"] == user.email and m["Subject"].startswith("Calendar")]


def n_busy(db, calendar_id):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM calendar_busy WHERE calendar_id = %s", (calendar_id,))
        return cur.fetchone()[0]


def test_each_due_calendar_is_read_by_one_of_several_workers(client, register, feeds, db, calendar_worker):
    paths = [f"/cal-{n}.ics" for n in range(12)]
    for n, path in enumerate(paths):
        connect(client, register(f"Person{n}"), feeds.serve(path, feed(1)))
    for _ in range(2):
        calendar_worker()
    make_due(db)
    assert wait_until(lambda: all(len(feeds.seen(path)) >= 2 for path in paths))
    time.sleep(1)  # time for a second worker to read one again, if it could
    assert [len(feeds.seen(path)) for path in paths] == [2] * len(paths)  # connecting, then one refresh
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM calendars WHERE next_refresh_at > now() + interval '8 minutes'")
        assert cur.fetchone() == (len(paths),)
