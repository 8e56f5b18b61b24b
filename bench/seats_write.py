"""Issue 22's guest bookings: seats many guests take at one start, and requests (a type that
requires confirmation), against a plain guest booking.

    python bench/seats_write.py [--seats 200] [--rounds 3] [--concurrency 1] [--cases plain,request,seat]
    python bench/seats_write.py --base http://127.0.0.1:8000   # a server already running

Without --base it starts this service as bench/compare.py does (production mode, the public POST
limit lifted) against DATABASE_URL / REDIS_URL, and stops it afterwards. Sets up through the API
one host per case, working around the clock in UTC, each with one type (bench/guest_booking.py's:
5 minutes, no notice): `plain`, `request` (requires_confirmation) and `seat` (seats: --seats).
Each round, the cases take turns (in the opposite order every other round), and each posts
--seats guest bookings through its host's link from --concurrency connections at once: plain and
request bookings each at a start of their own, the seats all at the round's one start, until that
booking is full (every answer must be a 201, and one more seat a 409). Prints per round and as
medians of the rounds each case's ok req/s and p50 / p90 / p99 ms, and for the seats the p50 of the
first and the last tenth of them taken (a seat's write reads the booking with its seats, twice).
With DATABASE_URL set it runs ANALYZE after the set-up and after each round (series_write.analyze).
"""

import argparse
import http.client
import json
import os
import statistics
import threading
import time
import urllib.error
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from compare import call, ours_running
from guest_booking import API, TYPE, person
from series_write import analyze, percentiles

CASES = {"plain": {}, "request": {"requires_confirmation": True}, "seat": {}}


def set_up(base, cases, seats):
    """Each case's public booking path: a host of its own with one type."""
    tag = datetime.now().strftime("%H%M%S")
    paths = {}
    for case in cases:
        _, token = person(base, f"Host{case.title()}", tag)
        username = f"{case}-{tag}"
        call(base, "PATCH", f"{API}/users/me", {"username": username}, token)
        extra = {"seats": seats} if case == "seat" else CASES[case]
        call(base, "POST", f"{API}/event-types", TYPE | extra | {"slug": "bench"}, token)
        paths[case] = f"{API}/public/{username}/bench/bookings"
    return paths


def post(conn, path, start, guest):
    """(status, milliseconds) of one guest booking on an open connection."""
    body = json.dumps({"start": start.isoformat(), "name": f"Guest {guest}",
                       "email": f"guest{guest}@example.com"}).encode()
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    raw = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status not in (201, 409):
        raise SystemExit(f"POST {path} answered {response.status}: {raw[:300]!r}")
    return response.status, elapsed


def burst(base, path, starts, concurrency=1):
    """Posts a guest booking at each of `starts` from `concurrency` connections: ([(status, ms)]
    in the order they were answered, seconds it took)."""
    parts = urlsplit(base)
    pending = iter(enumerate(starts))
    lock = threading.Lock()
    answers = []

    def client():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        while True:
            with lock:
                n, start = next(pending, (None, None))
            if start is None:
                break
            status, elapsed = post(conn, path, start, n)
            with lock:
                answers.append((status, elapsed))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, time.perf_counter() - began


def measure(base, cases, args):
    paths = set_up(base, cases, args.seats)
    analyze()
    tomorrow = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    results = {case: [] for case in cases}
    growth = []
    for round_no in range(args.rounds):
        for case in cases if round_no % 2 == 0 else list(reversed(cases)):
            # Plain bookings and requests each at a 5-minute start of their own (round by round
            # further on); the round's seats all at one start, after them.
            first = tomorrow + timedelta(minutes=5 * args.seats * round_no)
            if case == "seat":
                starts = [tomorrow + timedelta(days=300, minutes=5 * round_no)] * args.seats
            else:
                starts = [first + timedelta(minutes=5 * n) for n in range(args.seats)]
            answers, took = burst(base, paths[case], starts, args.concurrency)
            times = [elapsed for status, elapsed in answers if status == 201]
            ok = len(times)
            if ok != args.seats:
                raise SystemExit(f"{case}: {ok} of {args.seats} bookings made")
            if case == "seat":
                [(status, _)], _ = burst(base, paths[case], starts[:1])
                if status != 409:
                    raise SystemExit(f"a seat past the booking's {args.seats} answered {status}, not 409")
                tenth = max(1, len(times) // 10)
                growth.append((statistics.median(times[:tenth]), statistics.median(times[-tenth:])))
            p50, p90, p99, _ = percentiles(times)
            results[case].append((ok / took, p50, p90, p99))
            print(f"round {round_no + 1} {case:8} {ok / took:7.1f} ok req/s  p50 {p50:6.2f}  p90 {p90:6.2f}  "
                  f"p99 {p99:7.2f} ms", flush=True)
        analyze()
    print(f"medians of {args.rounds} rounds, {args.seats} bookings per case and round, {args.concurrency} "
          f"connection(s):")
    for case, rows in results.items():
        rate, p50, p90, p99 = (statistics.median(row[i] for row in rows) for i in range(4))
        print(f"  {case:8} {rate:7.1f} ok req/s  p50 {p50:6.2f}  p90 {p90:6.2f}  p99 {p99:7.2f} ms")
    if growth:
        early, late = (statistics.median(g[i] for g in growth) for i in range(2))
        print(f"  seat p50, first tenth of the seats {early:.2f} ms, last tenth {late:.2f} ms ({late / early:.2f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a server already running (else this service is started)")
    parser.add_argument("--port", type=int, default=3300)
    parser.add_argument("--seats", type=int, default=200, help="the seated type's seats, and bookings per case "
                                                               "and round (2-1000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    cases = args.cases.split(",")
    unknown = set(cases) - CASES.keys()
    if unknown:
        parser.error(f"unknown cases {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    if not 2 <= args.seats <= 1000:
        parser.error("--seats is 2 to 1000, as a type's seats")
    try:
        if args.base:
            measure(args.base, cases, args)
        else:
            os.environ["PUBLIC_RATE_LIMIT"] = "0"
            with ours_running(args.port, 4) as (base, _):
                measure(base, cases, args)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{error.url}: {error.code} {error.read()[:300]!r}") from None


if __name__ == "__main__":
    main()
