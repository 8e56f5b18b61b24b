"""How fast a backlog of emails drains: writes N outbox rows, wakes a drain, starts K
worker.py processes (console provider) and times until every row is sent, then checks that
each was sent exactly once.

    DATABASE_URL=... REDIS_URL=... python -m bench.email_drain [--emails 10000] [--workers 2]
"""

import argparse
import os
import subprocess
import sys
import time

import redis

from migrate import migrate
from scheduler import jobs
from scheduler.config import Settings
from scheduler.db import Database
from scheduler.repositories import messages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.from_env()
    migrate(settings.database_url)
    db, queue_redis = Database(settings.database_url, size=1), redis.Redis.from_url(settings.redis_url)
    with db.transaction() as cur:
        cur.execute("SELECT coalesce(max(id), 0) AS id FROM email_outbox")
        floor = cur.fetchone()["id"]
        messages.write(cur, notes=[], emails=[{"to": f"drain-{i}@example.com", "template": "WELCOME",
                                               "payload": {"name": f"N{i}"}} for i in range(args.emails)],
                       webhook_events=[], calendars=[])
    jobs.wake_email_drain(queue_redis)
    env = {**os.environ, "EMAIL_PROVIDER": "console", "LOG_LEVEL": "WARNING"}
    began = time.monotonic()
    workers = [subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env) for _ in range(args.workers)]
    try:
        while True:
            with db.transaction() as cur:
                cur.execute("SELECT count(*) AS left FROM email_outbox WHERE id > %(floor)s AND status <> 'sent'",
                            {"floor": floor})
                if cur.fetchone()["left"] == 0:
                    break
            time.sleep(0.2)
        elapsed = time.monotonic() - began
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS sent, max(attempts) AS most FROM email_outbox WHERE id > %(floor)s",
                    {"floor": floor})
        check = cur.fetchone()
    print(f"{args.emails} emails, {args.workers} workers: drained in {elapsed:.1f} s "
          f"({args.emails / elapsed:.0f}/s); {check['sent']} sent, at most {check['most']} attempt(s) each")


if __name__ == "__main__":
    main()
