"""A/B comparison of this service against another implementation of the same API.

    python bench/compare.py [--original-url http://127.0.0.1:3000 --original-pid PID] [--rounds 3]

Starts this service (gunicorn with gunicorn.conf.py, plus the worker) on --port against
DATABASE_URL / REDIS_URL, then runs the shared harness (shared/bench/run.py) against it and,
when --original-url is given, against that server too, alternating A, B, A, B ... so both
see the same machine conditions. Prints, per scenario, the median ok req/s and p99 of each
and their ratio, and writes every run's JSON to bench/results/. The other server must already
be running, on the same PostgreSQL and Redis. `make bench` runs this with private services.
"""

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(os.path.dirname(ROOT), "shared", "bench", "run.py")
RESULTS = os.path.join(ROOT, "bench", "results")


def call(base, method, path, body=None, token=None):
    """One JSON request to the API under test; its answer's JSON."""
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"} | (
                                         {"Authorization": f"Bearer {token}"} if token else {}))
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


def wait_healthy(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{url} did not become healthy")


@contextlib.contextmanager
def ours_running(port, bcrypt_rounds):
    """This service (web and worker) on `port` while the block runs: yields (url, web pid)."""
    env = {**os.environ, "APP_ENV": "production", "JWT_SECRET": secrets.token_urlsafe(48), "PORT": str(port),
           "SECRET_KEYS": "bench:" + base64.b64encode(secrets.token_bytes(32)).decode(),
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "BCRYPT_ROUNDS": str(bcrypt_rounds), "LOG_LEVEL": "WARNING",
           # The harness logs in as one user at full speed: lift the limits for the measurement.
           "LOGIN_MAX_FAILURES": "1000000", "AUTH_IP_RATE_LIMIT": "0"}
    subprocess.run([sys.executable, "migrate.py"], cwd=ROOT, env=env, check=True)
    bin_dir = os.path.dirname(sys.executable)
    web = subprocess.Popen([os.path.join(bin_dir, "gunicorn"), "wsgi:app", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                           start_new_session=True)
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url, web.pid
    finally:
        for process in (web, worker):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def run_harness(label, url, pid, args, round_no):
    out = os.path.join(RESULTS, f"{label}-{round_no}.json")
    command = [sys.executable, args.harness, "--base", url, "--duration", str(args.duration), "--connections",
               str(args.connections), "--state", os.path.join(RESULTS, f"{label}-state.json"), "--json", out,
               "--label", label]
    if args.scenarios:
        command += ["--scenarios", args.scenarios]
    if pid:
        command += ["--pid", str(pid)]
    print(f"round {round_no}: {label} ...", flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def rows_of(result):
    """scenario -> (ok req/s, p99 ms, peak RSS MB) from one harness JSON."""
    return {item["scenario"]: (item["ok_rps"], item["latency_ms"]["p99"], item.get("server_peak_rss_mb"))
            for item in result["results"]}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def report(runs):
    labels = list(runs)
    scenarios = list(rows_of(runs[labels[0]][0]))
    header = f"{'scenario':15}" + "".join(f"{label + ' ok/s':>16}{label + ' p99':>14}{label + ' MB':>12}"
                                          for label in labels)
    if len(labels) == 2:
        header += f"{'ratio ok/s':>12}"
    print(header)
    for name in scenarios:
        cells, medians = "", []
        for label in labels:
            rps, p99, rss = (median([rows_of(r).get(name, (None,) * 3)[i] for r in runs[label]]) for i in range(3))
            medians.append(rps)
            cells += f"{rps or 0:16.1f}{p99 or 0:14.1f}{rss or 0:12.1f}"
        ratio = f"{medians[0] / medians[1]:12.2f}" if len(labels) == 2 and medians[1] else ""
        print(f"{name:15}{cells}{ratio}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--original-url")
    parser.add_argument("--original-pid", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scenarios")
    parser.add_argument("--harness", default=HARNESS, help="shared/bench/run.py, if not beside this repository "
                                                            "(e.g. from a git worktree)")
    parser.add_argument("--bcrypt-rounds", type=int, default=10, help="the original hashes with cost 10")
    args = parser.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    with ours_running(args.port, args.bcrypt_rounds) as (ours_url, web_pid):
        targets = [("ours", ours_url, web_pid)]
        if args.original_url:
            wait_healthy(args.original_url)
            targets.append(("original", args.original_url, args.original_pid))
        runs = {label: [] for label, _, _ in targets}
        for round_no in range(1, args.rounds + 1):
            for label, url, pid in targets:
                runs[label].append(run_harness(label, url, pid, args, round_no))
        report(runs)


if __name__ == "__main__":
    main()
