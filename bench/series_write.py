"""Latency of booking a recurring series (issue 21): POST /api/v1/bookings, one request at a time.

    python bench/series_write.py [--requests 100] [--warmup 5] [--cases weekly52,weekly52_att3,...]
    python bench/series_write.py --base http://127.0.0.1:8000   # a server already running

Without --base it starts this service as bench/compare.py does (production mode: gunicorn with
gunicorn.conf.py, and the worker) against DATABASE_URL / REDIS_URL, with the sign-up limit
lifted, and stops it afterwards. Each request is made by people registered for it alone (and
for the cases with attendees, an organisation the four of them share and have accepted), all
set up before the timing starts, so no request conflicts with another or finds a calendar
fuller than the first did. The cases take turns request by request, so each sees the same
machine. Each request of a case starts at a half hour of the week of its own (from tomorrow,
08:00-20:00 in Berlin; the 169th request again at the first), as real calendars spread over
the week. With DATABASE_URL set it runs ANALYZE after the warm-up and then every 10 requests
per case, as autovacuum would on a growing database (see `analyze`). Prints each case's p50,
p90, p99 and max in ms (the time from sending the request on an open connection to the whole
answer read; every answer must be a 201 with every occurrence booked).

Cases: single (one booking, no recurrence, for comparison), weekly52 and weekly12 (52 and 12
weekly occurrences), and the same with _att3 (three attendees besides the organiser).

`--same-people`: each case's requests are all made by one organiser (and the same attendees),
so their calendars fill as the run goes on: the last 52-occurrence request finds some 5,000
bookings in each person's calendar. At most 168 requests per case (warm-up included).
"""

import argparse
import http.client
import json
import os
import statistics
import time
from zoneinfo import ZoneInfo
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from compare import call, ours_running

API = "/api/v1"
CASES = {"single": (None, 0), "weekly52": (52, 0), "weekly52_att3": (52, 3), "weekly12": (12, 0),
         "weekly12_att3": (12, 3)}
ZONE = "Europe/Berlin"  # the series crosses two clock changes, as most real ones do


def register(base, label):
    answer = call(base, "POST", f"{API}/auth/register",
                  {"name": label.title(), "email": f"{label}@example.com", "password": "benchpass123"})
    return answer["token"], answer["user"]["email"]


def people_for(base, tag, attendees):
    """A fresh organiser (and `attendees` colleagues who accepted a shared organisation): the
    organiser's token and the attendees' e-mails."""
    token, _ = register(base, f"organiser-{tag}")
    if not attendees:
        return token, []
    org = call(base, "POST", f"{API}/organizations", {"name": f"Bench {tag}"}, token)["organization"]
    emails = []
    for n in range(attendees):
        their_token, email = register(base, f"attendee{n}-{tag}")
        call(base, "POST", f"{API}/organizations/{org['id']}/members", {"email": email}, token)
        call(base, "POST", f"{API}/organizations/{org['id']}/accept", token=their_token)
        emails.append(email)
    return token, emails


def body_for(count, emails, start):
    body = {"title": "Bench series", "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
            "timezone": ZONE, "attendees": emails}
    if count:
        body["recurrence"] = {"freq": "weekly", "count": count}
    return body


def timed_post(base, token, body, count):
    """Milliseconds for one POST on a connection opened beforehand; fails unless it booked
    every occurrence."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.connect()
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    conn.request("POST", f"{API}/bookings", body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    if response.status != 201:
        raise SystemExit(f"POST /bookings answered {response.status}: {raw[:300]!r}")
    booked = len(json.loads(raw)["bookings"]) if count else 1
    if booked != (count or 1):
        raise SystemExit(f"booked {booked} occurrences, not {count}")
    return elapsed


def analyze():
    """ANALYZE, between timed requests, as autovacuum would on a database that grows. A run
    fills a new database within seconds, faster than autovacuum looks (once a minute), and
    PL/pgSQL keeps each connection's plans: a connection that settled on a plan of
    blocked_time's query while the tables were tiny kept it as they grew (one web connection's
    conflict check went from 4 ms to 200-340 ms over a run, the other's stayed at 1-7 ms, in
    about half the runs). ANALYZE makes every connection plan afresh with the tables as they are."""
    if not os.environ.get("DATABASE_URL"):
        return
    import psycopg2
    with psycopg2.connect(os.environ["DATABASE_URL"]) as db:
        db.autocommit = True
        with db.cursor() as cur:
            cur.execute("ANALYZE")


def wait_for_outbox(seconds=120):
    """Until the worker has sent the emails due now (the sign-ups' welcomes), so it does not
    compete with the timed requests for the CPU more than their own emails make it."""
    if not os.environ.get("DATABASE_URL"):
        return
    import psycopg2
    deadline = time.monotonic() + seconds
    with psycopg2.connect(os.environ["DATABASE_URL"]) as db:
        db.autocommit = True
        while time.monotonic() < deadline:
            with db.cursor() as cur:
                cur.execute("SELECT count(*) FROM email_outbox WHERE status IN ('pending', 'sending') "
                            "AND send_after <= now()")
                if cur.fetchone()[0] == 0:
                    return
            time.sleep(0.5)
    print("the worker did not drain the outbox; measuring anyway", flush=True)


def percentiles(values):
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[89], cuts[98], max(values)


SLOTS = 7 * 24  # half hours from 08:00 to 20:00 in a week: none in a clock change's missing hour


def starts(total, same_people):
    """Each request's start: a half hour of its own in the week from tomorrow, 08:00-20:00 in
    Berlin (for fresh people, the 169th request takes the first again)."""
    if same_people and total > SLOTS:
        raise SystemExit(f"--same-people takes at most {SLOTS} requests per case, warm-up included")
    tomorrow = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
    return [datetime.combine(tomorrow + timedelta(days=n % SLOTS // 24), datetime.min.time(), ZoneInfo(ZONE))
            .replace(hour=8 + n % 24 // 2, minute=30 * (n % 2)) for n in range(total)]


def measure(base, cases, requests, warmup, same_people=False):
    tag = datetime.now().strftime("%H%M%S")
    total = warmup + requests
    at = starts(total, same_people)
    print(f"setting up the people of {len(cases)} x {total} requests ...", flush=True)
    plans = {case: [people_for(base, f"{tag}-{case}-{n}", CASES[case][1]) for n in range(1 if same_people else total)]
             for case in cases}
    wait_for_outbox()
    times = {case: [] for case in cases}
    for n in range(total):
        if n >= warmup and (n - warmup) % 10 == 0:
            analyze()
        for case in cases:
            count = CASES[case][0]
            token, emails = plans[case][0 if same_people else n]
            elapsed = timed_post(base, token, body_for(count, emails, at[n]), count)
            if n >= warmup:
                times[case].append(elapsed)
    print(f"{'case':15}{'requests':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for case in cases:
        p50, p90, p99, top = percentiles(times[case])
        print(f"{case:15}{len(times[case]):9d}{p50:9.1f}{p90:9.1f}{p99:9.1f}{top:9.1f}")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a server already running (else this service is started)")
    parser.add_argument("--port", type=int, default=3200)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per case")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per case first")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--same-people", action="store_true", help="one organiser (and attendees) per case, "
                                                                     "whose calendars fill as the run goes on")
    parser.add_argument("--json", help="write every request's time here")
    args = parser.parse_args()
    cases = args.cases.split(",")
    unknown = set(cases) - CASES.keys()
    if unknown:
        parser.error(f"unknown cases {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    try:
        if args.base:
            times = measure(args.base, cases, args.requests, args.warmup, args.same_people)
        else:
            # Cost 4 (the least bcrypt takes): sign-ups are setup here, not what is measured.
            with ours_running(args.port, 4) as (base, _):
                times = measure(base, cases, args.requests, args.warmup, args.same_people)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{error.url}: {error.code} {error.read()[:300]!r}") from None
    if args.json:
        with open(args.json, "w") as f:
            json.dump(times, f)


if __name__ == "__main__":
    main()
