"""Instructions per request, before and after: the web's (in process) and PostgreSQL's, counted.

    sudo python bench/instructions.py --other /work/wt/before [--requests create,list,guest] [--n 100]

Timings on this shared machine move by 10-20% between identical runs, so a change of a few per
cent cannot show in bench/compare.py's req/s; instruction counts repeat within about 0.5%. For
this tree and another commit's worktree (--other), each on a database of its own, the app is
driven in process (Flask's test client, production settings as bench/compare.py has them) under
valgrind's cachegrind, against a private PostgreSQL whose every process runs under cachegrind too
(--trace-children; autovacuum off) and a private Redis. A run of N1 requests and one of N1 + n
each count the driving process's instructions and those of the backend that served it (a file per
process that exits after the run); (second - first) / n is the cost of one request, so start-up,
imports and the warm-up cancel out. Each tree is counted twice, in turn.

Requests: `create` (POST /bookings, each at an hour of its own), `list` (GET /bookings, a page of
50 of a user's 60), `guest` (a guest booking through a person's link, each at a 5-minute start of
its own). Needs root (PostgreSQL runs as the postgres user), valgrind, PostgreSQL's server binaries
and redis-server; the other tree must be a worktree of this repository (its own scheduler/,
migrate.py and sql/ are used).
"""

import argparse
import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N1 = 20
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]


def drive(what, n, state):
    """In the tree of the current directory: `setup` its data, or make 20 then `n` requests of `what`."""
    sys.path.insert(0, os.getcwd())
    os.environ.update({"APP_ENV": "production", "JWT_SECRET": "j" * 48, "PORT": "8000",
                       "SECRET_KEYS": "bench:" + base64.b64encode(b"k" * 32).decode(),
                       "PUBLIC_BASE_URL": "http://127.0.0.1:8000", "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING",
                       "LOGIN_MAX_FAILURES": "1000000", "AUTH_IP_RATE_LIMIT": "0", "PUBLIC_RATE_LIMIT": "0"})
    from scheduler import create_app
    client = create_app().test_client()

    def ok(response, status):
        assert response.status_code == status, (response.status_code, response.data[:300])
        return response

    if what == "setup":
        token = ok(client.post("/api/v1/auth/register", json={
            "name": "Bench", "email": "bench@example.com", "password": "benchpass123"}), 201).json["token"]
        for k in range(60):
            day, hour = 1 + k // 24, k % 24
            ok(client.post("/api/v1/bookings", json={"title": "Bench", "start": f"2028-01-{day:02d}T{hour:02d}:00:00Z",
                                                     "end": f"2028-01-{day:02d}T{hour:02d}:30:00Z"},
                           headers={"Authorization": f"Bearer {token}"}), 201)
        host = {"Authorization": "Bearer " + ok(client.post("/api/v1/auth/register", json={
            "name": "Host", "email": "host@example.com", "password": "benchpass123"}), 201).json["token"]}
        always = [{"start": "00:00", "end": "24:00"}]
        ok(client.patch("/api/v1/users/me", json={"username": "benchhost", "timezone": "UTC", "working_hours": {
            day: always for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}, headers=host), 200)
        ok(client.post("/api/v1/event-types", json={"slug": "bench", "title": "Bench", "duration": 5, "step": 5,
                                                    "minimum_notice": 0, "booking_window": 365}, headers=host), 201)
        with open(state, "w") as file:
            json.dump({"token": token, "next": 0}, file)
        return
    with open(state) as file:
        saved = json.load(file)
    auth = {"Authorization": f"Bearer {saved['token']}"}
    tomorrow = (int(time.time()) // 86400 + 1) * 86400

    def at(epoch):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))

    def request():
        slot = saved["next"]
        saved["next"] += 1
        if what == "list":
            # Not decoded: reading the answer is the client's work, not the server's.
            assert len(ok(client.get("/api/v1/bookings", headers=auth), 200).data) > 10000
        elif what == "create":
            start = 1893456000 + slot * 3600  # from 2030 on, an hour each
            ok(client.post("/api/v1/bookings", json={"title": "Bench", "start": at(start), "end": at(start + 1800)},
                           headers=auth), 201)
        elif what == "guest":
            ok(client.post("/api/v1/public/benchhost/bench/bookings", json={
                "start": at(tomorrow + slot * 300), "name": "Guest", "email": "guest@example.com"}), 201)
        else:
            raise SystemExit(f"unknown request {what}")

    for _ in range(N1 + n):
        request()
    with open(state, "w") as file:
        json.dump(saved, file)


class Cluster:
    """A private PostgreSQL, started plainly or with all its processes under cachegrind."""

    def __init__(self, directory):
        self.bin = os.path.dirname(sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))[-1])
        self.dir, self.data, self.counts = directory, os.path.join(directory, "data"), os.path.join(directory, "cg")
        os.makedirs(self.counts)
        shutil.chown(directory, "postgres", "postgres")
        shutil.chown(self.counts, "postgres", "postgres")
        self.as_postgres([f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                          "--locale=C", "--no-sync"], stdout=subprocess.DEVNULL)
        self.server = None

    def as_postgres(self, command, **options):
        return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, **options)

    def url(self, database):
        return f"postgresql://postgres@/{database}?host={self.dir}"

    def start(self, counted):
        counting = [*VALGRIND, "--trace-children=yes", f"--cachegrind-out-file={self.counts}/%p"] if counted else []
        self.server = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", *counting, f"{self.bin}/postgres", "-D", self.data, "-k", self.dir,
             "-c", "listen_addresses=", "-c", "fsync=off", "-c", "autovacuum=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 300
        while subprocess.run([f"{self.bin}/pg_isready", "-h", self.dir, "-q"]).returncode != 0:
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise SystemExit("PostgreSQL did not start")
            time.sleep(0.5)

    def stop(self):
        if self.server and self.server.poll() is None:
            self.as_postgres([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "300", "stop"],
                             stdout=subprocess.DEVNULL)
            self.server.wait(300)


def instructions(path):
    with open(path) as file:
        return next(int(line.split()[1]) for line in file if line.startswith("summary:"))


def measure(args, cluster, redis_url, directory):
    trees = {"this": ROOT, "other": os.path.abspath(args.other)}

    def env(name):
        # A fixed hash seed: with a random one, the driving process's count moves by about 1% run to run.
        return {**os.environ, "DATABASE_URL": cluster.url(f"instructions_{name}"), "REDIS_URL": redis_url,
                "PYTHONHASHSEED": "0"}

    def state(name):
        return os.path.join(directory, f"{name}.json")

    cluster.start(counted=False)
    try:
        for name, tree in trees.items():
            cluster.as_postgres([f"{cluster.bin}/createdb", "-h", cluster.dir, "-U", "postgres", f"instructions_{name}"])
            subprocess.run([sys.executable, "migrate.py"], cwd=tree, env=env(name), check=True, capture_output=True)
            subprocess.run([sys.executable, __file__, "--drive", "setup", "--state", state(name)], cwd=tree,
                           env=env(name), check=True)
            # Statistics for the plans, as autovacuum (off here, so that it does not count) would leave.
            subprocess.run(["psql", "-h", cluster.dir, "-U", "postgres", "-d", f"instructions_{name}", "-qc",
                            "VACUUM ANALYZE"], check=True)
    finally:
        cluster.stop()
    cluster.start(counted=True)

    def counted(name, what, n):
        """(web, PostgreSQL) instructions of a run of N1 + n requests."""
        seen = set(os.listdir(cluster.counts))
        web_file = os.path.join(directory, "web.out")
        subprocess.run([*VALGRIND, f"--cachegrind-out-file={web_file}", sys.executable, __file__, "--drive", what,
                        "--n", str(n), "--state", state(name)], cwd=trees[name], env=env(name), check=True,
                       capture_output=True)
        time.sleep(20)  # its backend exits, and writes its counts, after the run
        backends = [os.path.join(cluster.counts, f) for f in set(os.listdir(cluster.counts)) - seen]
        return instructions(web_file), sum(instructions(f) for f in backends)

    try:
        counted("this", "list", 0)  # the counts the server's start leaves are written meanwhile
        time.sleep(20)
        for what in args.requests.split(","):
            per = {name: [] for name in trees}
            for turn in range(2):
                for name in (trees if turn == 0 else reversed(list(trees))):
                    (web1, db1), (web2, db2) = counted(name, what, 0), counted(name, what, args.n)
                    per[name].append(((web2 - web1) / args.n, (db2 - db1) / args.n))
                    print(f"{what:7} {name:6} web {per[name][-1][0] / 1e6:7.3f} M  PostgreSQL "
                          f"{per[name][-1][1] / 1e6:7.3f} M instructions per request", flush=True)
            this, other = ([sum(p[i] for p in per[name]) / 2 for i in range(2)] for name in trees)
            print(f"{what:7} this / other: web {this[0] / other[0]:.3f}, PostgreSQL {this[1] / other[1]:.3f}, "
                  f"both {sum(this) / sum(other):.3f}", flush=True)
    finally:
        cluster.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", help="a worktree of the other commit")
    parser.add_argument("--requests", default="create,list,guest")
    parser.add_argument("--n", type=int, default=100, help="requests counted (the difference of two runs)")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        return drive(args.drive, args.n, args.state)
    if not args.other:
        parser.error("--other is required")
    directory = tempfile.mkdtemp(prefix="instructions-", dir="/tmp")
    os.chmod(directory, 0o755)
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", os.path.join(directory, "redis.sock"),
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)
    cluster = Cluster(os.path.join(directory, "pg"))
    try:
        measure(args, cluster, f"unix://{directory}/redis.sock?db=0", directory)
    finally:
        cluster.stop()
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
