"""Before and after in one run: this tree against another commit's tree (a git worktree).

    make bench BENCH=ab BENCH_ARGS="--other /work/wt/before --rounds 3"     # private PostgreSQL and Redis
    DATABASE_URL=... REDIS_URL=... python bench/ab.py --other PATH [--both] [--scripts compare,guest_booking]

Each tree is served as bench/compare.py serves this one (its own `ours_running`: its own
migrate.py, gunicorn.conf.py and worker, production mode), on a database of its own made afresh
on DATABASE_URL's server (`ab_this`, `ab_other`; dropped first if there) and a Redis database of
its own (REDIS_URL's number + 1 and + 2; nothing is flushed, so use a Redis nobody else uses, as
`make bench` does). The other tree is started first and left running; then this tree's
bench/compare.py (`--scenarios`, `--rounds`) and bench/guest_booking.py measure it as "original"
against this tree as "ours", alternating round by round. With `--both` the run is done a second
time with the roles swapped (fresh databases again; the other tree's scripts measure, this
tree is the one left running), since the script that starts a server measures it a little
better than the one it is given. Prints each script's output as it comes, with the load average
before and after, and ends with a summary of each script's medians.

The other tree needs bench/compare.py with --original-url and --harness (every commit since
issue 21) and, for guest_booking, its --original-url.
"""

import argparse
import os
import signal
import subprocess
import sys
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_harness():
    """shared/bench/run.py beside the main checkout, also when this tree is a git worktree elsewhere."""
    common = subprocess.run(["git", "-C", ROOT, "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(os.path.dirname(os.path.dirname(common)), "shared", "bench", "run.py")


# Started in the other tree's directory, so that `compare` there is that tree's own.
SERVE = """
import signal, sys
sys.path.insert(0, "bench")
from compare import ours_running
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with ours_running(int(sys.argv[1]), 10) as (url, pid):
    print(url, pid, flush=True)
    signal.pause()
"""


def with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def fresh_database(url, name):
    """DATABASE_URL's server with a new, empty database `name`: its URL."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return with_database(url, name)


def with_redis_db(url, number):
    """REDIS_URL with its database number `number` more (redis://host:port/n or unix://path?db=n)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(int(query.get("db", 0)) + number)
        return f"unix://{parts.path}?{urlencode(query)}"  # urlunsplit would drop the // of an empty host
    return urlunsplit(parts._replace(path=f"/{int(parts.path.strip('/') or 0) + number}"))


def commit_of(tree):
    return subprocess.run(["git", "-C", tree, "log", "-1", "--format=%h %s"], capture_output=True, text=True,
                          check=True).stdout.strip()[:72]


def environment(database, redis):
    # The guest bookings' POST limit is lifted on both servers (bench/guest_booking.py asks it of the original).
    return {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis, "PUBLIC_RATE_LIMIT": "0"}


def python_of(tree):
    """The tree's own virtualenv's Python when it has one (its requirements may differ from
    ours), else this one."""
    own = os.path.join(tree, ".venv", "bin", "python")
    return own if os.path.exists(own) else sys.executable


def served(tree, port, env):
    """`tree` served on `port` until stop() is called on the answer: (process, url, gunicorn pid)."""
    process = subprocess.Popen([python_of(tree), "-c", SERVE, str(port)], cwd=tree, env=env, stdout=subprocess.PIPE,
                               text=True, start_new_session=True)
    line = process.stdout.readline().split()
    if len(line) != 2:
        process.wait(30)
        sys.exit(f"{tree} did not start on port {port}")
    return process, line[0], int(line[1])


def stop(process):
    process.send_signal(signal.SIGTERM)  # the serving script stops its web and worker on the way out
    process.wait(60)


def script_command(script, args, port, url, pid, tree):
    command = [python_of(tree), f"bench/{script}.py", "--port", str(port), "--original-url", url]
    if script == "compare":
        command += ["--original-pid", str(pid), "--harness", args.harness, "--rounds", str(args.rounds), "--duration",
                    str(args.duration), "--connections", str(args.connections), "--scenarios", args.scenarios]
    elif script == "guest_booking":
        command += ["--rounds", str(args.guest_rounds), "--duration", str(args.guest_duration), "--links", args.links]
    return command


def run(args, measuring, serving, label):
    """One pass: `serving` is started and left running, `measuring`'s scripts measure it as
    "original" against themselves. Returns {script: its summary lines}."""
    print(f"\n=== {label}: ours = {measuring} ({commit_of(measuring)}), original = {serving} "
          f"({commit_of(serving)})", flush=True)
    database = os.environ["DATABASE_URL"]
    redis = os.environ["REDIS_URL"]
    ours_env = environment(fresh_database(database, "ab_this"), with_redis_db(redis, 1))
    other_env = environment(fresh_database(database, "ab_other"), with_redis_db(redis, 2))
    process, url, pid = served(serving, args.other_port, other_env)
    summaries = {}
    try:
        for script in args.scripts.split(","):
            load = " ".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"--- {script} {datetime.now():%H:%M:%S}, load average {load}", flush=True)
            output = subprocess.run(script_command(script, args, args.port, url, pid, measuring), cwd=measuring, env=ours_env,
                                    stdout=subprocess.PIPE, text=True, check=True).stdout
            print(output, end="", flush=True)
            load = " ".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"--- {script} done {datetime.now():%H:%M:%S}, load average {load}", flush=True)
            summaries[script] = summary_of(script, output)
    finally:
        stop(process)
    return summaries


def summary_of(script, output):
    """The medians' lines of a script's output."""
    lines = output.splitlines()
    if script == "compare":
        start = next(i for i, line in enumerate(lines) if line.startswith("scenario"))
    else:
        start = next(i for i, line in enumerate(lines) if line.startswith("medians:"))
    return lines[start:]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", required=True, help="a worktree of the other commit")
    parser.add_argument("--both", action="store_true", help="a second pass with the roles swapped")
    parser.add_argument("--scripts", default="compare,guest_booking")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default="list_bookings,unread_count,create_booking")
    parser.add_argument("--duration", type=int, default=10, help="compare.py's seconds per scenario")
    parser.add_argument("--connections", type=int, default=32, help="compare.py's connections")
    parser.add_argument("--guest-rounds", type=int, default=6, help="guest_booking.py's rounds")
    parser.add_argument("--guest-duration", type=int, default=6, help="guest_booking.py's seconds per round")
    parser.add_argument("--links", default="personal,team", help="guest_booking.py's links")
    parser.add_argument("--port", type=int, default=8210, help="where the measuring tree serves itself")
    parser.add_argument("--other-port", type=int, default=8220, help="where the tree left running is served")
    parser.add_argument("--harness", help="shared/bench/run.py (found beside the main checkout by default)")
    args = parser.parse_args()
    args.other = os.path.abspath(args.other)
    args.harness = args.harness or shared_harness()
    passes = [(ROOT, args.other, "pass 1")] + ([(args.other, ROOT, "pass 2, roles swapped")] if args.both else [])
    results = [(label, measuring, run(args, measuring, serving, label)) for measuring, serving, label in passes]
    print("\n=== summary", flush=True)
    for label, measuring, summaries in results:
        print(f"{label}: ours = {commit_of(measuring)}")
        for script, lines in summaries.items():
            print(f"  {script}:")
            for line in lines:
                print("    " + line)


if __name__ == "__main__":
    main()
