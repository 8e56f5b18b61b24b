"""What one calendar refresh costs: an iCalendar feed of 2,000 instances in the coming year
(20 weekly series in a named zone, 960 single events, 80 all-day ones) served on this machine,
read whole (fetch, parse, expand, replace the busy times in one transaction) N times; prints
each run and the median, and the median of the expansion alone.

    DATABASE_URL=... REDIS_URL=... python -m bench.calendar_refresh [--runs 7]
"""

import argparse
import statistics
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from migrate import migrate
from scheduler import clock
from scheduler.config import Settings
from scheduler.external_calendars.expand import Expansion, Owner, horizon, parse
from scheduler.external_calendars.refresh import refresh
from scheduler.runtime import Runtime


def feed(now):
    stamp = "%Y%m%dT%H%M%S"
    start = (now + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bench//EN"]

    def event(uid, *rest):
        lines.extend(["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{start.strftime(stamp)}Z", "SUMMARY:Busy", *rest,
                      "END:VEVENT"])
    for n in range(20):  # 20 weekly series of 48 = 960
        first = start + timedelta(days=n % 7, hours=8 + n % 9)
        event(f"series-{n}", f"DTSTART;TZID=Europe/Berlin:{first.strftime(stamp)}",
              f"DTEND;TZID=Europe/Berlin:{(first + timedelta(minutes=30)).strftime(stamp)}", "RRULE:FREQ=WEEKLY;COUNT=48")
    for n in range(960):
        moment = start + timedelta(hours=9 + 9 * n + n % 7)
        event(f"single-{n}", f"DTSTART:{moment.strftime(stamp)}Z", f"DTEND:{(moment + timedelta(hours=1)).strftime(stamp)}Z")
    for n in range(80):
        day = start + timedelta(days=4 * n + 1)
        event(f"day-{n}", f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}")
    return "\r\n".join([*lines, "END:VCALENDAR", ""]).encode()


def serve(body):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/bench.ics"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    settings = Settings.from_env().replace(egress_allow_private=True)
    migrate(settings.database_url)
    rt = Runtime.for_worker(settings)
    now = clock.now()
    body = feed(now)
    owner = Owner("Europe/Berlin", "bench@example.com")
    instances = Expansion(owner, settings.mail_domain, *horizon(now))
    instances.busy(parse(body))
    print(f"feed: {len(body) / 1024:.0f} KiB, {instances.instances} instances")
    url = serve(body)
    with rt.db.transaction() as cur:
        cur.execute("INSERT INTO users (name, email, email_key, password_hash, timezone) VALUES "
                    "('Bench', 'bench@example.com', 'bench@example.com', 'x', 'Europe/Berlin') "
                    "ON CONFLICT (email_key) DO UPDATE SET name = excluded.name RETURNING id")
        user_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO calendars (user_id, kind, name, url) VALUES (%s, 'ics', 'Bench', %s) RETURNING id",
                    (user_id, url))
        calendar_id = cur.fetchone()["id"]
    runs, expansions = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        calendar = refresh(rt, calendar_id)
        runs.append(time.perf_counter() - started)
        assert calendar["status"] == "ok", calendar
        started = time.perf_counter()
        Expansion(owner, settings.mail_domain, *horizon(now)).busy(parse(body))
        expansions.append(time.perf_counter() - started)
        with rt.db.transaction() as cur:  # the next run reads it whole again, not a 304
            cur.execute("UPDATE calendars SET validators = '{}' WHERE id = %s", (calendar_id,))
    print("refreshes (s):", " ".join(f"{r:.3f}" for r in runs))
    print(f"median refresh: {statistics.median(runs) * 1000:.0f} ms ({calendar['busy_count']} busy times stored); "
          f"median parse + expansion alone: {statistics.median(expansions) * 1000:.0f} ms")
    with rt.db.transaction() as cur:
        cur.execute("DELETE FROM calendars WHERE id = %s", (calendar_id,))
    rt.db.close()


if __name__ == "__main__":
    main()
