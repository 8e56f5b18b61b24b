"""Guest bookings through a person's link against a team's round-robin link of five hosts.

    python bench/guest_booking.py [--rounds 6] [--duration 6] [--connections 4] [--links personal,team]

Starts this service as bench/compare.py does (production mode) against DATABASE_URL /
REDIS_URL, with the public POST limit lifted, and sets up through the API: a host with a
booking link, and an organisation of five hosts with a round-robin team link, everyone
working around the clock in UTC (5-minute starts, no notice). Then, alternating the links
round by round, wrk posts guest bookings, each at a start of its own; prints per round and as
medians the ok req/s and the p50 and p99 latency of each link.

`--links personal` measures only the person's link, so the same script measures a tree from
before team links (an A/B of the personal path: run it in a worktree of each commit).

`--original-url URL`: another server of this API, already running (e.g. another commit's tree,
started as bench/compare.py starts this one, with PUBLIC_RATE_LIMIT=0) on its own database, is
set up the same way and measured in turn with this one, round by round: an A/B in one run, with
the ratio of the medians (ours / original).
"""

import argparse
import os
import re
import statistics
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone

from compare import call, ours_running

API = "/api/v1"
DAY = {"start": "00:00", "end": "24:00"}
AROUND_THE_CLOCK = {day: [DAY] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TYPE = {"title": "Bench", "duration": 5, "step": 5, "minimum_notice": 0, "booking_window": 365}
STARTS_PER_ROUND = 8000  # more than a round books, so no start is asked for twice
# The 5-minute starts of the 364 days from tomorrow, visited in a scattered order (n * 7919 mod
# their number, 7919 being prime to it), so the bookings spread over the year as real ones
# would rather than piling thousands into the first weeks, whose counts round robin reads.
STARTS = 364 * 288
LUA = """
local counter = 0
local threads = {}
function setup(thread) thread:set("id", #threads) table.insert(threads, thread) end
request = function()
  counter = counter + 1
  local t = %(epoch)d + ((%(offset)d + counter * %(threads)d + id) * 7919 %% %(starts)d) * 300
  local body = '{"start":"' .. os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", t) .. '","name":"Bench Guest","email":"guest@example.com"}'
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json"}, body)
end
"""


def person(base, name, tag):
    answer = call(base, "POST", f"{API}/auth/register",
                  {"name": name, "email": f"{name.lower()}-{tag}@example.com", "password": "benchpass123"})
    token = answer["token"]
    call(base, "PATCH", f"{API}/users/me", {"working_hours": AROUND_THE_CLOCK, "timezone": "UTC"}, token)
    return answer["user"]["id"], token


def set_up(base, links):
    """The links' public booking paths."""
    tag = datetime.now().strftime("%H%M%S")
    paths = {}
    if "personal" in links:
        _, token = person(base, "Host", tag)
        call(base, "PATCH", f"{API}/users/me", {"username": f"host-{tag}"}, token)
        call(base, "POST", f"{API}/event-types", TYPE | {"slug": "bench"}, token)
        paths["personal"] = f"{API}/public/host-{tag}/bench/bookings"
    if "team" in links:
        _, owner = person(base, "Owner", tag)
        org = call(base, "POST", f"{API}/organizations", {"name": "Bench team"}, owner)["organization"]
        hosts = []
        for n in range(5):
            user_id, token = person(base, f"Member{n}", tag)
            call(base, "POST", f"{API}/organizations/{org['id']}/members",
                 {"email": f"member{n}-{tag}@example.com"}, owner)
            call(base, "POST", f"{API}/organizations/{org['id']}/accept", token=token)
            hosts.append(user_id)
        call(base, "PATCH", f"{API}/organizations/{org['id']}", {"slug": f"team-{tag}"}, owner)
        call(base, "POST", f"{API}/organizations/{org['id']}/event-types",
             TYPE | {"slug": "bench", "kind": "round_robin", "hosts": hosts}, owner)
        paths["team"] = f"{API}/public/teams/team-{tag}/bench/bookings"
    return paths


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def wrk(base, path, offset, epoch, args):
    """One wrk run: (ok req/s, p50 ms, p99 ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"epoch": epoch, "offset": offset, "threads": args.threads, "path": path, "starts": STARTS})
    out = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                          "-s", script.name, base], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    ok = total - (int(failed.group(1)) if failed else 0)
    return (ok / args.duration, to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--links", default="personal,team")
    parser.add_argument("--original-url", help="another server to measure in turn with this one")
    args = parser.parse_args()
    links = args.links.split(",")
    os.environ["PUBLIC_RATE_LIMIT"] = "0"
    tomorrow = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    epoch = int(tomorrow.timestamp())
    with ours_running(args.port, 10) as (base, _):
        servers = {"ours": base} | ({"original": args.original_url} if args.original_url else {})
        runs = [(server, link) for server in servers for link in links]
        paths = {server: set_up(url, links) for server, url in servers.items()}
        results = {run: [] for run in runs}
        for round_no in range(args.rounds):
            for server, link in runs if round_no % 2 == 0 else reversed(runs):
                rows = results[server, link]
                rows.append(wrk(servers[server], paths[server][link], round_no * STARTS_PER_ROUND, epoch, args))
                rate, p50, p99 = rows[-1]
                print(f"round {round_no + 1} {server:8} {link:8} {rate:7.1f} ok req/s  p50 {p50:6.2f} ms  "
                      f"p99 {p99:7.2f} ms", flush=True)
    print("medians:")
    medians = {run: [statistics.median(r[i] for r in rows) for i in range(3)] for run, rows in results.items()}
    for (server, link), (rate, p50, p99) in medians.items():
        print(f"  {server:8} {link:8} {rate:7.1f} ok req/s  p50 {p50:6.2f} ms  p99 {p99:7.2f} ms")
    if args.original_url:
        for link in links:
            ours, original = medians["ours", link], medians["original", link]
            print(f"  ours / original, {link}: ok req/s {ours[0] / original[0]:.2f}, p50 {ours[1] / original[1]:.2f}")


if __name__ == "__main__":
    main()
