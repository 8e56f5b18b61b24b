"""An API key's cost against a login token's on one route, in one run (issue 23).

    make bench BENCH=key_auth BENCH_ARGS="--rounds 4 --duration 8"    # private PostgreSQL and Redis
    DATABASE_URL=... REDIS_URL=... python bench/key_auth.py [--limits 0,1000000] [--statements 200]

For each API_KEY_RATE_LIMIT of --limits (0: no limit, so the key's lookup alone; 1000000: the
per-key Redis counter runs on every request but never refuses), this service is started as
bench/compare.py starts it (gunicorn, production mode, the same settings) on DATABASE_URL /
REDIS_URL, --users people are registered through the API, each makes an API key with the
profile:read scope, and the shared harness (shared/bench/run.py, its unread_count scenario:
GET /api/v1/notifications/count, rotating over the users) is run with the login tokens and then
with the keys, alternating round by round (token, key, token, key ...). Prints each round and
the medians of ok req/s and p99 for each, and the ratio key / token.

Then, with the server stopped, the SQL side: the app in process (Flask's test client, the same
production settings) makes --statements requests of each kind; every statement its cursors
execute and every Redis round trip is counted, and PostgreSQL's own counters
(pg_stat_user_indexes.idx_scan, pg_stat_database.xact_commit) are read before and after each
kind. EXPLAIN (ANALYZE, BUFFERS) of the key's lookup (repositories/api_keys.find_for_request: the
function api_key_for_request of sql/functions.sql, which also marks last_used_at) and the token's
(repositories/users.find_for_token) as the app sends them, with the function's own statements
explained by auto_explain (log_nested_statements, after a few calls on the same connection, as
a pooled connection would have them), with the bench's few keys and again with 10,000 more rows
in api_keys; and each lookup timed alone, --timed executions on one connection. Writes
everything to bench/results/key_auth.json.
"""

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab import shared_harness  # noqa: E402
from compare import call, ours_running  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results")
API = "/api/v1"
SCENARIO = "unread_count"


def load_harness(path):
    sys.path.insert(0, os.path.dirname(path))
    import run as harness
    return harness


def make_keys(base, users):
    """An API key with profile:read for each user (made with the user's login token)."""
    for i, user in enumerate(users):
        answer = call(base, "POST", f"{API}/api-keys", {"name": f"bench {i}", "scopes": ["profile:read"]},
                      user["token"])
        user["key"] = answer["key"]


def one_pass(args, harness, limit):
    """Token and key rounds against one server started with API_KEY_RATE_LIMIT=limit."""
    os.environ["API_KEY_RATE_LIMIT"] = str(limit)
    rows = {"token": [], "key": []}
    with ours_running(args.port, 10) as (base, pid):
        print(f"\n=== API_KEY_RATE_LIMIT={limit}: setting up {args.users} users and their keys ...", flush=True)
        state = harness.setup_data(base, args.users, args.bookings_per_user, 4)
        make_keys(base, state["users"])
        hargs = argparse.Namespace(base=base, threads=2, warmup=args.warmup, duration=args.duration, timeout=30,
                                   keep_wrk_output=False, pid=[pid])
        credentials = {kind: {"users": [{"token": u[kind]} for u in state["users"]]}
                       for kind in ("token", "key")}
        for round_no in range(1, args.rounds + 1):
            for kind in ("token", "key"):
                result = harness.run_scenario(hargs, credentials[kind], SCENARIO, args.connections)
                if result["non2xx"] or result["smoke"]["status"] != 200:
                    sys.exit(f"{kind}: answers other than 200: {result['statuses']}, smoke {result['smoke']}")
                rows[kind].append(result)
                load = os.getloadavg()[0]
                print(f"round {round_no} {kind:5} {result['ok_rps']:8.1f} ok req/s  p50 "
                      f"{result['latency_ms']['p50']:6.2f} ms  p99 {result['latency_ms']['p99']:7.2f} ms  "
                      f"server CPU {result['server_cpu_s']:5.2f} s  load {load:.1f}", flush=True)
    medians = {kind: {"ok_rps": statistics.median(r["ok_rps"] for r in results),
                      "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in results),
                      "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in results),
                      # server CPU seconds per 1,000 requests: the cost, apart from how fast wrk drove it
                      "cpu_ms_per_request": statistics.median(r["server_cpu_s"] * 1000 / r["requests"]
                                                              for r in results)}
               for kind, results in rows.items()}
    ratio = medians["key"]["ok_rps"] / medians["token"]["ok_rps"]
    print(f"medians, API_KEY_RATE_LIMIT={limit}:")
    for kind, m in medians.items():
        print(f"  {kind:5} {m['ok_rps']:8.1f} ok req/s  p50 {m['p50_ms']:6.2f} ms  p99 {m['p99_ms']:7.2f} ms  "
              f"server CPU {m['cpu_ms_per_request']:.3f} ms a request")
    print(f"  key / token: ok req/s {ratio:.3f}, p99 {medians['key']['p99_ms'] / medians['token']['p99_ms']:.3f}, "
          f"server CPU a request {medians['key']['cpu_ms_per_request'] / medians['token']['cpu_ms_per_request']:.3f}",
          flush=True)
    return {"limit": limit, "medians": medians, "ratio_ok_rps": ratio,
            "rounds": {kind: [{k: r[k] for k in ("ok_rps", "latency_ms", "server_cpu_s", "requests", "statuses")}
                              for r in results] for kind, results in rows.items()}}


# ----------------------------------------------------------------------------- the SQL side, in process

def index_scans(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT relname || '.' || indexrelname, idx_scan FROM pg_stat_user_indexes")
        scans = dict(cur.fetchall())
        cur.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        scans["(transactions committed)"] = cur.fetchone()[0]
    return scans


def explain(conn, sql, params):
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + sql, params)
        return [row[0] for row in cur.fetchall()]


def explain_nested(conn, sql, params, warm=6):
    """The plans of the statements inside a function, as auto_explain logs them (LOG messages
    sent to this client): the function called `warm` times first on this connection, so its
    PL/pgSQL plans are the ones a pooled connection keeps."""
    with conn.cursor() as cur:
        for _ in range(warm):
            cur.execute(sql, params)
            cur.fetchall()
        cur.execute("LOAD 'auto_explain'")
        cur.execute("SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; "
                    "SET auto_explain.log_buffers = on; SET auto_explain.log_timing = off; "
                    "SET auto_explain.log_nested_statements = on; SET client_min_messages = log")
        del conn.notices[:]
        cur.execute(sql, params)
        cur.fetchall()
        cur.execute("SET client_min_messages = notice; SET auto_explain.log_min_duration = -1")
    lines = []
    for notice in conn.notices:
        lines.extend(notice.rstrip().splitlines())
    del conn.notices[:]
    return lines


def timed(conn, sql, params, n):
    """µs of wall time a statement, n executions on one connection (one client, text protocol)."""
    with conn.cursor() as cur:
        for _ in range(50):
            cur.execute(sql, params)
            cur.fetchall()
        start = time.perf_counter()
        for _ in range(n):
            cur.execute(sql, params)
            cur.fetchall()
        return (time.perf_counter() - start) * 1e6 / n


def drive_statements(n, timed_n):
    """In process: n requests with a login token, then n with a key; what each costs in
    statements, Redis round trips and index scans. Prints one JSON document."""
    os.environ.update({"APP_ENV": "production", "JWT_SECRET": "j" * 48, "PORT": "8000",
                       "SECRET_KEYS": "bench:" + base64.b64encode(b"k" * 32).decode(),
                       "PUBLIC_BASE_URL": "http://127.0.0.1:8000", "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING",
                       "LOGIN_MAX_FAILURES": "1000000", "AUTH_IP_RATE_LIMIT": "0"})
    sys.path.insert(0, ROOT)
    import redis
    from scheduler import create_app
    from scheduler.db import DictCursor

    executed, redis_trips = [], [0]
    plain_execute = DictCursor.execute

    def counting_execute(self, sql, params=None):
        executed.append((sql, params))
        return plain_execute(self, sql, params)

    DictCursor.execute = counting_execute
    for cls in (redis.client.Pipeline, redis.Redis):
        plain = cls.execute if cls is redis.client.Pipeline else cls.execute_command

        def counted(self, *a, _plain=plain, **k):
            redis_trips[0] += 1
            return _plain(self, *a, **k)

        if cls is redis.client.Pipeline:
            cls.execute = counted
        else:
            cls.execute_command = counted

    client = create_app().test_client()
    tag = time.strftime("%H%M%S")
    token = client.post(f"{API}/auth/register", json={"name": "Statements", "password": "benchpass123",
                                                     "email": f"statements-{tag}@example.com"}).json["token"]
    key = client.post(f"{API}/api-keys", json={"name": "statements", "scopes": ["profile:read"]},
                      headers={"Authorization": f"Bearer {token}"}).json["key"]
    monitor = psycopg2.connect(os.environ["DATABASE_URL"])
    monitor.autocommit = True
    out = {"n": n, "kinds": {}}
    for kind, credential in (("token", token), ("key", key)):
        headers = {"Authorization": f"Bearer {credential}"}
        for _ in range(20):  # warm-up: pooled connection, caches
            assert client.get(f"{API}/notifications/count", headers=headers).status_code == 200
        time.sleep(11)  # a backend reports its counters to the statistics within 10 s of going idle
        before = index_scans(monitor)
        del executed[:]
        redis_trips[0] = 0
        for _ in range(n):
            response = client.get(f"{API}/notifications/count", headers=headers)
            assert response.status_code == 200, response.data
        statements = [sql for sql, _ in executed]
        trips = redis_trips[0]
        time.sleep(11)
        after = index_scans(monitor)
        deltas = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
        kinds = {}
        for sql in statements:
            first = " ".join(sql.split())[:70]
            kinds[first] = kinds.get(first, 0) + 1
        out["kinds"][kind] = {"statements_per_request": len(statements) / n, "statements": kinds,
                              "redis_round_trips_per_request": trips / n,
                              "pg_counters_per_request": {name: d / n for name, d in sorted(deltas.items())},
                              "rate_limit_headers": {h: response.headers.get(h)
                                                     for h in ("RateLimit-Policy", "RateLimit")}}
    # The two lookups as the app sends them, explained.
    from scheduler import access_keys
    from scheduler.repositories import api_keys as key_rows, users

    class Capture:
        def execute(self, sql, params):
            self.sql, self.params = sql, params

        def fetchone(self):
            return None

    key_lookup, token_lookup = Capture(), Capture()
    key_rows.find_for_request(key_lookup, access_keys.key_hash(key))
    users.find_for_token(token_lookup, 1, "0" * 32)
    user_id = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"}).json
    token_lookup.params["id"] = (user_id.get("user") or user_id)["id"]
    with monitor.cursor() as cur:
        cur.execute("ANALYZE api_keys; ANALYZE users")
        cur.execute("SELECT count(*) FROM api_keys")
        small = cur.fetchone()[0]
    out["explain"] = {f"key lookup, {small} keys": explain(monitor, key_lookup.sql, key_lookup.params),
                      f"key lookup, {small} keys, inside api_key_for_request (auto_explain)":
                          explain_nested(monitor, key_lookup.sql, key_lookup.params),
                      "token lookup": explain(monitor, token_lookup.sql, token_lookup.params)}
    if timed_n:
        out["timed_us"] = {"key lookup (api_key_for_request)": timed(monitor, key_lookup.sql, key_lookup.params,
                                                                      timed_n),
                           "token lookup (find_for_token)": timed(monitor, token_lookup.sql, token_lookup.params,
                                                                  timed_n),
                           "n": timed_n}
    with monitor.cursor() as cur:
        # 10,000 people more, each with a key shaped as the service makes them (schd_, 43 + 6
        # characters; the 13 first as the prefix): the plans of a table too big to read whole.
        cur.execute("""INSERT INTO users (email, email_key, name, password_hash)
                       SELECT 'filler' || g || '@example.com', 'filler' || g, 'Filler', 'x'
                       FROM generate_series(1, 10000) g""")
        cur.execute("""INSERT INTO api_keys (user_id, name, scopes, prefix, key_hash)
                       SELECT id, 'filler', '{profile:read}', left(k, 13), sha256(convert_to(k, 'UTF8'))
                       FROM (SELECT id, 'schd_' || lpad(id::text, 43, 'f') || 'Fi11er' AS k
                             FROM users WHERE name = 'Filler') f""")
        cur.execute("ANALYZE api_keys; ANALYZE users")
        out["explain"][f"key lookup, {small + 10000} keys"] = explain(monitor, key_lookup.sql, key_lookup.params)
        out["explain"][f"key lookup, {small + 10000} keys, inside api_key_for_request (auto_explain)"] = \
            explain_nested(monitor, key_lookup.sql, key_lookup.params)
        out["explain"]["token lookup, 10,000 people more"] = explain(monitor, token_lookup.sql, token_lookup.params)
        cur.execute("DELETE FROM users WHERE name = 'Filler'")
    print("STATEMENTS " + json.dumps(out, default=str))


def statements_pass(n, timed_n):
    env = {**os.environ, "API_KEY_RATE_LIMIT": "1000000", "PYTHONHASHSEED": "0"}
    output = subprocess.run([sys.executable, os.path.abspath(__file__), "--drive", str(n),
                             "--timed", str(timed_n)], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    line = next((line for line in output.stdout.splitlines() if line.startswith("STATEMENTS ")), None)
    if output.returncode or line is None:
        sys.exit(f"the in-process count failed:\n{output.stdout[-3000:]}\n{output.stderr[-3000:]}")
    found = json.loads(line[len("STATEMENTS "):])
    print(f"\n=== in process, {n} requests of each kind (API_KEY_RATE_LIMIT=1000000)")
    for kind, counts in found["kinds"].items():
        print(f"{kind}: {counts['statements_per_request']:.3f} SQL statements a request, "
              f"{counts['redis_round_trips_per_request']:.3f} Redis round trips a request")
        for sql, count in counts["statements"].items():
            print(f"    {count:5d}  {sql}")
        print("  PostgreSQL's counters, a request: " + ", ".join(
            f"{name} {value:.3f}" for name, value in counts["pg_counters_per_request"].items()))
        print(f"  headers: {counts['rate_limit_headers']}")
    for name, us in found.get("timed_us", {}).items():
        if name != "n":
            print(f"timed alone, {found['timed_us']['n']} executions on one connection: {name} {us:.0f} µs")
    for name, plan in found["explain"].items():
        print(f"EXPLAIN (ANALYZE, BUFFERS), {name}:")
        for line in plan:
            print("    " + line)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8030)
    parser.add_argument("--limits", default="0,1000000", help="API_KEY_RATE_LIMIT of each pass")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each kind (token, key) per pass")
    parser.add_argument("--duration", type=int, default=8, help="seconds a measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured warm-up before each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=40, help="people, each with a token and a key")
    parser.add_argument("--bookings-per-user", type=int, default=5)
    parser.add_argument("--statements", type=int, default=200, help="in-process requests of each kind (0: skip)")
    parser.add_argument("--timed", type=int, default=3000,
                        help="executions of each lookup timed alone in process (0: skip)")
    parser.add_argument("--harness", help="shared/bench/run.py (found beside the main checkout by default)")
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        return drive_statements(args.drive, args.timed)
    harness = load_harness(args.harness or shared_harness())
    os.makedirs(RESULTS, exist_ok=True)
    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": subprocess.run(
        ["git", "-C", ROOT, "log", "-1", "--format=%h"], capture_output=True, text=True).stdout.strip(),
        "params": {k: getattr(args, k) for k in ("rounds", "duration", "warmup", "connections", "users")},
        "passes": [one_pass(args, harness, int(limit)) for limit in args.limits.split(",") if limit]}
    if args.statements:
        doc["statements"] = statements_pass(args.statements, args.timed)
    print("\n=== summary (medians; ratio = key / token)")
    for p in doc["passes"]:
        t, k = p["medians"]["token"], p["medians"]["key"]
        print(f"API_KEY_RATE_LIMIT={p['limit']}: token {t['ok_rps']:.1f} ok req/s p99 {t['p99_ms']:.1f} ms, "
              f"key {k['ok_rps']:.1f} ok req/s p99 {k['p99_ms']:.1f} ms, ratio {p['ratio_ok_rps']:.3f}, "
              f"CPU a request {k['cpu_ms_per_request'] / t['cpu_ms_per_request']:.3f}")
    with open(os.path.join(RESULTS, "key_auth.json"), "w") as f:
        json.dump(doc, f, indent=2, default=str)


if __name__ == "__main__":
    main()
