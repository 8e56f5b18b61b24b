"""Do logins stall other requests? Runs the harness's login scenario (wrk, 32 connections)
and, beside it, one client asking GET /api/v1/notifications/count every 50 ms (paced, so the
probe itself takes little CPU from the logins); prints the logins' ok req/s and the probe's
latency percentiles.

    python bench/login_probe.py [--base http://127.0.0.1:3000] [--duration 10]

Without --base it starts this service as bench/compare.py does (production mode, bcrypt cost
10, login limits lifted) against DATABASE_URL / REDIS_URL, and stops it afterwards.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from compare import HARNESS, RESULTS, ours_running

PROBE_PATH = "/api/v1/notifications/count"
PROBE_INTERVAL = 0.05


def probe(base, token, stop, latencies):
    """One keep-alive connection, a request every PROBE_INTERVAL (or at once after a slow
    one), until `stop` is set."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        started = time.perf_counter()
        conn.request("GET", PROBE_PATH, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            latencies.append((time.perf_counter() - started) * 1000)
        stop.wait(max(0.0, started + PROBE_INTERVAL - time.perf_counter()))
    conn.close()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(base, args):
    os.makedirs(RESULTS, exist_ok=True)
    state = os.path.join(RESULTS, f"probe-state-{urlsplit(base).port}.json")
    out = os.path.join(RESULTS, "probe-login.json")
    harness = [sys.executable, HARNESS, "--base", base, "--state", state, "--duration", str(args.duration),
               "--connections", str(args.connections)]
    # Users and tokens first (the setup), so the probe has a token before the logins start.
    subprocess.run(harness + ["--scenarios", "health"], check=True, stdout=subprocess.DEVNULL)
    with open(state) as f:
        token = json.load(f)["users"][1]["token"]
    stop, latencies = threading.Event(), []
    prober = threading.Thread(target=probe, args=(base, token, stop, latencies))
    prober.start()
    try:
        subprocess.run(harness + ["--scenarios", "login", "--json", out], check=True, stdout=subprocess.DEVNULL)
    finally:
        stop.set()
        prober.join()
    with open(out) as f:
        [login] = json.load(f)["results"]
    print(f"logins: {login['ok_rps']:.1f} ok req/s (p99 {login['latency_ms']['p99']:.0f} ms); "
          f"probe beside them: {len(latencies)} requests, p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a server already running; default: start this service")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bcrypt-rounds", type=int, default=10)
    args = parser.parse_args()
    if args.base:
        measure(args.base, args)
        return
    with ours_running(args.port, args.bcrypt_rounds) as (base, _):
        measure(base, args)


if __name__ == "__main__":
    main()
