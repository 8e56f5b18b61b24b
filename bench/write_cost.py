"""Where PostgreSQL's time goes in one booking write (POST /api/v1/bookings, as the shared
harness sends it): every statement the write runs, its mean execution time, and the time of
the triggers that check its constraints, from PostgreSQL's auto_explain (EXPLAIN ANALYZE of
each statement, nested ones inside our SQL functions included).

    DATABASE_URL=... REDIS_URL=... python bench/write_cost.py [--bookings 200]

Serves the app in-process (Flask's test client) on a fresh database `write_cost` on
DATABASE_URL's server, whose connections load auto_explain and report to the client, so
nothing is read from the server's log. EXPLAIN ANALYZE's own timing makes every statement
slower; compare the statements' shares, not their times with the bench's CPU per request. The
triggers' times are inflated most: the foreign-key checks read a quarter of a booking here, yet
dropping the outbox's and notifications' keys saved no CPU (docs/performance.md, issue 25's
second stop). Check a share by taking the thing away before acting on it.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ab import fresh_database  # noqa: E402
from scheduler import create_app  # noqa: E402
from scheduler.config import Settings  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPLAIN = ("-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 "
           "-c auto_explain.log_analyze=on -c auto_explain.log_nested_statements=on "
           "-c auto_explain.log_triggers=on -c auto_explain.log_level=notice -c client_min_messages=notice")
LITERAL = re.compile(r"'(?:[^']|'')*'|\b[0-9]+\b")
TRIGGER = re.compile(r"Trigger (?:for constraint )?(\S+?)(?: on \S+)?: time=([0-9.]+) calls=(\d+)")


def statements(notice):
    """(statement text, ms, {trigger: ms}) of one auto_explain notice."""
    head, _, plan = notice.partition("Query Text:")
    ms = float(re.search(r"duration: ([0-9.]+) ms", head).group(1))
    lines = plan.splitlines()
    # The query text runs until the plan's first line, which is indented and has a cost or time.
    query = []
    for line in lines:
        if re.match(r"\s*\S.*\(actual time=|\s*Trigger |\s*Planning|\s*Execution", line) and query:
            break
        query.append(line.strip())
    text = LITERAL.sub("?", " ".join(" ".join(query).split()))  # one line per statement, whatever its values
    return text, ms, {name: float(t) for name, t, _ in TRIGGER.findall(plan)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=200)
    args = parser.parse_args()
    url = fresh_database(os.environ["DATABASE_URL"], "write_cost")
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "production", "JWT_SECRET": "x" * 48,
           "PUBLIC_BASE_URL": "http://127.0.0.1", "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING",
           "SECRET_KEYS": "bench:" + "A" * 43 + "="}
    subprocess.run([sys.executable, "migrate.py"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    env["DATABASE_URL"] = url + ("&" if "?" in url else "?") + "options=" + quote(EXPLAIN)
    app = create_app(Settings.from_env(env))
    client = app.test_client()
    token = client.post("/api/v1/auth/register", json={"name": "Cost", "email": "cost@example.com",
                                                        "password": "costpass123"}).get_json()["token"]
    db = app.extensions["runtime"].db
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)

    def book(k):
        begin = start + timedelta(hours=k)
        answer = client.post("/api/v1/bookings", headers={"Authorization": f"Bearer {token}"},
                             json={"title": "cost", "start": begin.isoformat(),
                                   "end": (begin + timedelta(minutes=30)).isoformat()})
        assert answer.status_code == 201, answer.get_json()

    book(0)  # opens the pool's connection; its notices start with the next booking
    connections = list(db._idle.queue)
    for conn in connections:
        conn.notices = collections.deque()
    for k in range(1, args.bookings + 1):
        book(k)
    per_statement = {}  # text -> (durations, {trigger: total ms})
    for conn in connections:
        for notice in conn.notices:
            text, ms, fired = statements(notice)
            durations, triggers = per_statement.setdefault(text, ([], collections.Counter()))
            durations.append(ms)
            triggers.update(fired)
    print(f"{args.bookings} bookings; per booking (ms, mean; statements inside our SQL functions are counted "
          f"in their caller too):")
    for text, (durations, triggers) in per_statement.items():
        print(f"{sum(durations) / args.bookings:8.3f} ms  x{len(durations) / args.bookings:.1f}  {text[:110]}")
        for name, t in triggers.items():
            print(f"{'':12}trigger {name}: {t / args.bookings:.3f} ms")

if __name__ == "__main__":
    main()
