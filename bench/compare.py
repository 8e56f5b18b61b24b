"""A/B comparison of this service against other implementations of the same API: rate and cost.

    python bench/compare.py [--original-url http://127.0.0.1:3000 --original-pid PID --original-worker-pid PID]
                            [--tree main=/work/wt/main --tree gevent=.,WEB_WORKER=gevent] [--rounds 5]

Starts this service (gunicorn with gunicorn.conf.py, plus the worker) on --port against
DATABASE_URL / REDIS_URL. Each --tree (a git worktree, e.g. today's main, or this tree with
other settings) is served beside it under its label, on a fresh database of its own on
DATABASE_URL's server. With --original-url, a server already running on the same PostgreSQL
and Redis is measured too as "original".

Then the shared harness (shared/bench/run.py) measures each scenario on each server in turn,
A, B, C, … scenario by scenario, and B, C, A, … in the next round, so all see the same
machine conditions: first a short warm-up run, then the measured run with the CPU time of the web
processes, of the background worker and of the whole PostgreSQL server read from /proc just
before and after it (PostgreSQL's includes its backends that exited, through the postmaster's
reaped-children times, and its background processes; only one server is under load at a time,
so the difference is that server's). Prints, per scenario, the median ok req/s, p99 and CPU
per request of each, and this service's ratio to each other one; writes every run's JSON to
bench/results/. `make bench` runs this with private PostgreSQL and Redis.
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

import psycopg2
import redis

import ab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(os.path.dirname(ROOT), "shared", "bench", "run.py")
RESULTS = os.path.join(ROOT, "bench", "results")
SCENARIOS = "health,list_bookings,unread_count,dashboard,login,log_event,create_booking"
TICK = os.sysconf("SC_CLK_TCK")


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


def stat_of(pid):
    """(parent pid, CPU ticks of the process and of its reaped children), or None if it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), sum(int(value) for value in fields[11:15])  # utime stime cutime cstime


def processes():
    """{pid: (parent pid, ticks)} of every process this user can see."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := stat_of(int(name))):
            table[int(name)] = stat
    return table


def cpu_seconds(roots, table):
    """CPU seconds of the process trees under `roots` (live processes and the children they reaped)."""
    children = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    todo = [pid for pid in roots if pid]
    if not todo:
        return None  # no process given (the original's worker unknown)
    total = 0
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][1]
            todo.extend(children.get(pid, []))
    return total / TICK


def postmaster_pid(database_url):
    """The PostgreSQL server's main process (this host's), as parent of a backend."""
    connection = psycopg2.connect(database_url)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    parent = stat_of(backend)[0]
    connection.close()
    return parent


def worker_beside(web_pid):
    """The worker.py started beside a gunicorn (same parent), found from /proc."""
    parent = stat_of(web_pid)[0]
    for pid, (their_parent, _) in processes().items():
        if their_parent == parent and pid != web_pid:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"worker.py" in f.read():
                    return pid
    return None


class Target:
    def __init__(self, label, url, web, worker):
        self.label, self.url, self.web, self.worker = label, url, web, worker
        self.runs = {}  # scenario -> [row per round]


def settle(targets, seconds=180):
    """Waits until every background worker is idle (the set-up's emails sent), so that no
    server's backlog is measured against another's scenario."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = processes()
        time.sleep(1)
        after = processes()
        busy = [t.label for t in targets
                if t.worker and cpu_seconds([t.worker], after) - cpu_seconds([t.worker], before) > 0.02]
        if not busy:
            return
    print(f"workers still busy after {seconds} s: {', '.join(busy)}", flush=True)


def state_file(target):
    return os.path.join(RESULTS, f"{target.label}-state.json")


def harness(args, target, scenario, duration, out):
    command = [sys.executable, args.harness, "--base", target.url, "--duration", str(duration), "--warmup", "0",
               "--connections", str(args.connections), "--scenarios", scenario, "--label", target.label,
               "--state", state_file(target), "--json", out]
    if target.web:
        command += ["--pid", str(target.web)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)["results"][0]


def measure(args, target, scenario, round_no, postmaster):
    """One scenario on one server: a warm-up run, then the measured one with its CPU per request."""
    harness(args, target, scenario, args.warmup, os.path.join(RESULTS, "warmup.json"))
    before = processes()
    result = harness(args, target, scenario, args.duration, os.path.join(RESULTS, f"{target.label}-{scenario}-"
                                                                                   f"{round_no}.json"))
    after = processes()
    requests = max(result["requests"], 1)

    def per_request(roots):
        spent = [cpu_seconds(roots, table) for table in (before, after)]
        return None if spent[0] is None else (spent[1] - spent[0]) / requests * 1e6

    row = {"ok_rps": result["ok_rps"], "p99": result["latency_ms"]["p99"], "mb": result.get("server_peak_rss_mb"),
           "non2xx": result["non2xx"], "web_us": per_request([target.web]), "worker_us": per_request([target.worker]),
           "pg_us": per_request([postmaster])}
    target.runs.setdefault(scenario, []).append(row)
    with open(os.path.join(RESULTS, f"{target.label}-{scenario}-{round_no}.cost.json"), "w") as f:
        json.dump(row, f)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cell(value, width, digits=1):
    return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def report(targets, scenarios):
    """Medians per scenario and server; the ratio of this service's ok req/s to each other's."""
    columns = ("ok/s", "p99", "web µs", "pg µs", "wkr µs")
    header = f"{'scenario':15}" + "".join(f"{t.label + ' ' + c:>{max(12, len(t.label) + len(c) + 2)}}"
                                          for t in targets for c in columns)
    header += "".join(f"{'ours÷' + t.label:>{max(12, len(t.label) + 7)}}" for t in targets[1:])
    print(header)
    for scenario in scenarios:
        line, ours = f"{scenario:15}", None
        for t in targets:
            rows = t.runs.get(scenario, [])
            values = [median([row[key] for row in rows]) for key in ("ok_rps", "p99", "web_us", "pg_us", "worker_us")]
            ours = ours if ours is not None else values[0]
            line += "".join(cell(v, max(12, len(t.label) + len(c) + 2)) for v, c in zip(values, columns))
        for t in targets[1:]:
            theirs = median([row["ok_rps"] for row in t.runs.get(scenario, [])])
            line += cell(ours / theirs if ours and theirs else None, max(12, len(t.label) + 7), 2)
        print(line, flush=True)


@contextlib.contextmanager
def trees_running(args):
    """Each --tree served beside this one (bench/ab.py's way), on a fresh database of its own
    (`compare_<label>`) and a Redis database of its own, emptied first (REDIS_URL's number + 3, + 4 …)."""
    with contextlib.ExitStack() as stack:
        targets = []
        for number, spec in enumerate(args.tree):
            label, _, rest = spec.partition("=")
            tree, *settings = rest.split(",")
            env = ab.environment(ab.fresh_database(os.environ["DATABASE_URL"], f"compare_{label}"),
                                 ab.with_redis_db(os.environ["REDIS_URL"], 3 + number))
            env.update(setting.split("=", 1) for setting in settings)
            redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # no jobs left from an earlier run
            process, url, pid = ab.served(os.path.abspath(tree), args.tree_port + number, env)
            stack.callback(ab.stop, process)
            targets.append(Target(label, url, pid, worker_beside(pid)))
        yield targets


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--original-url")
    parser.add_argument("--original-pid", type=int, help="the original's web process")
    parser.add_argument("--original-worker-pid", type=int, help="the original's background worker")
    parser.add_argument("--tree", action="append", default=[], metavar="LABEL=PATH[,NAME=VALUE...]",
                        help="another tree of this service (a git worktree, or this one) to serve and measure as "
                             "LABEL, with these environment variables set (e.g. WEB_THREADS=8); repeatable")
    parser.add_argument("--tree-port", type=int, default=8030, help="where the first --tree serves; the next at +1 …")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scenarios", default=SCENARIOS)
    parser.add_argument("--harness", default=HARNESS, help="shared/bench/run.py, if not beside this repository "
                                                            "(e.g. from a git worktree)")
    parser.add_argument("--bcrypt-rounds", type=int, default=10, help="the original hashes with cost 10")
    args = parser.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    scenarios = [name for name in SCENARIOS.split(",") if name in args.scenarios.split(",")]
    postmaster = postmaster_pid(os.environ["DATABASE_URL"])
    with ours_running(args.port, args.bcrypt_rounds) as (ours_url, web_pid), trees_running(args) as trees:
        targets = [Target("ours", ours_url, web_pid, worker_beside(web_pid))] + trees
        if args.original_url:
            wait_healthy(args.original_url)
            targets.append(Target("original", args.original_url, args.original_pid, args.original_worker_pid))
        for target in targets:  # the harness sets its users and bookings up on its first run
            # Never an earlier run's users: the harness keeps them if a token still reads bookings,
            # which the original's tokens do on a fresh database (it doesn't look the user up), and
            # every booking then failed on its foreign key.
            with contextlib.suppress(FileNotFoundError):
                os.remove(state_file(target))
            harness(args, target, "health", 1, os.path.join(RESULTS, "warmup.json"))
        settle(targets)
        for round_no in range(1, args.rounds + 1):
            load = " ".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"round {round_no}, load average {load}", flush=True)
            # Who goes first turns round by round: the first of a scenario's runs starts on a quieter machine.
            turn = (round_no - 1) % len(targets)
            for scenario in scenarios:
                for target in targets[turn:] + targets[:turn]:
                    measure(args, target, scenario, round_no, postmaster)
            if round_no < args.rounds:
                settle(targets)
        report(targets, scenarios)


if __name__ == "__main__":
    main()
