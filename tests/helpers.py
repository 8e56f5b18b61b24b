import base64
import calendar
import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

import psycopg2

# A SECRET_KEYS value for settings in production mode (which requires one).
SECRET_KEYS = "t1:" + base64.b64encode(b"t" * 32).decode()
# What production requires, for tests of production settings: {**PRODUCTION, ...}.
PRODUCTION = {"APP_ENV": "production", "JWT_SECRET": "s" * 40, "SECRET_KEYS": SECRET_KEYS,
              "PUBLIC_BASE_URL": "https://book.example.com"}
BASE = (datetime.now(timezone.utc) + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hhmm, day=0):
    hours, minutes = map(int, hhmm.split(":"))
    return (BASE + timedelta(days=day, hours=hours, minutes=minutes)).isoformat()


def slot(start, end, title="Meeting", day=0):
    return {"title": title, "start": at(start, day), "end": at(end, day)}


def year_like_2031(after):
    """The first year after `after` whose days fall on the same weekdays as 2031's (1 January
    a Wednesday, not a leap year), so do its DST change days: tests that name dates and
    weekdays use it and never run into the past."""
    year = after + 1
    while date(year, 1, 1).weekday() != 2 or calendar.isleap(year):
        year += 1
    return year


YEAR = year_like_2031(datetime.now(timezone.utc).year + 1)  # at least a year ahead


def waiting_for_lock(database_url, seconds=10):
    """Polls until some session waits for a lock (the request under test is blocked)."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if cur.fetchone()[0]:
                    return
            time.sleep(0.02)
        raise AssertionError("the request never waited for the lock")
    finally:
        conn.close()


def answer_behind(database_url, hold, request):
    """`request()`'s answer when another transaction, having run `hold(cur)`, keeps what it
    locked until the request waits for it, and then commits."""
    holder = psycopg2.connect(database_url)
    answers = []
    try:
        with holder.cursor() as cur:
            hold(cur)
        thread = threading.Thread(target=lambda: answers.append(request()))
        thread.start()
        waiting_for_lock(database_url)
        holder.commit()
    finally:
        holder.close()
    thread.join(30)
    assert answers, "the request never answered"
    return answers[0]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_until(check, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def end(process, seconds=10):
    """Stops a server the tests started: SIGTERM, then SIGKILL if it hasn't gone in `seconds`."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def worker_process(database_url, redis_url, smtp_url, **env):
    """worker.py as a real process sending to the tests' SMTP server; `env` adds or overrides
    settings (the sweep runs twice a second and re-enqueues a job-less row after a second)."""
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "SECRET_KEYS": SECRET_KEYS, "EMAIL_PROVIDER": "smtp", "SMTP_URL": smtp_url, "OUTBOX_POLL_SECONDS": "0.5",
           "OUTBOX_REQUEUE_AFTER": "1", "LOG_LEVEL": "WARNING", **env}
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def book_through_a_killed_backend(app, user, conn, waiting):
    """Books 10:00-11:00 for `user` while `conn` (autocommit) holds their lock, terminates the
    backend the booking waits on (`waiting`: SQL finding its pid), lets go; returns the answer."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (user.id,))
    answers = []
    request = threading.Thread(target=lambda: answers.append(app.test_client().post(
        "/api/v1/bookings", json=slot("10:00", "11:00"), headers=user.auth)), daemon=True)
    request.start()
    with conn.cursor() as cur:
        assert wait_until(lambda: cur.execute(waiting) or cur.rowcount == 1, 10)
        cur.execute(f"SELECT pg_terminate_backend(pid) FROM ({waiting}) AS w")
        cur.execute("SELECT pg_advisory_unlock(%s)", (user.id,))
    request.join(10)
    assert answers, "the booking never answered"
    return answers[0]
