"""Several hosts on one machine: 2 web hosts and 2 worker hosts, each in its own network
namespace, against one PostgreSQL, one Redis and one SMTP sink, under a bounded load of
concurrent bookings over shared attendees plus reads.

    sudo .venv/bin/python -m scripts.scale_out      (or: make scale-out)

Each host is a network namespace joined to the root namespace by a veth pair on its own /30;
PostgreSQL, Redis and the SMTP sink (aiosmtpd) listen only on the root ends of those pairs,
web hosts only on their own end. Everything (namespaces, links, servers) is created here and
removed on the way out, also on failure or Ctrl-C; names carry this process's id.

Three rounds of the same number of operations: through 1 web host, through 2, and through 2
while one web host and one worker host are killed with SIGKILL a third of the way in (clients
retry on the other web host). Then the outbox drains and the run checks, in the database and
at the SMTP sink: no two confirmed commitments of a person overlap, and every email was sent
and received exactly once (by Message-ID). Prints a summary table; exits 1 if a check fails.
"""

import argparse
import collections
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import requests
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent

from scripts.devservices import PrivatePostgres, PrivateRedis
from migrate import migrate

TAG = f"so{os.getpid() % 100000}"
OCTET = 200 + os.getpid() % 50  # 10.<OCTET>.<host>.0/30: unlikely to meet another run's
WEB_PORT, PG_PORT, REDIS_PORT, SMTP_PORT = 8000, 5432, 6379, 2525
USERS = 16
REQUEST_TIMEOUT = 10
ATTEMPTS = 6
DRAIN_SECONDS = 300


def sh(*args, check=True):
    return subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


class Host:
    """A network namespace with a veth pair to the root namespace: `gateway` is the root
    end's address (where the shared services listen), `address` the host's own."""

    def __init__(self, name, index):
        self.name, self.netns = name, f"{TAG}-{name}"
        self.outside, self.inside = f"{TAG}o{index}", f"{TAG}i{index}"
        self.gateway, self.address = f"10.{OCTET}.{index}.1", f"10.{OCTET}.{index}.2"
        self.process = None

    def create(self):
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
        sh("ip", "link", "set", self.inside, "netns", self.netns)
        sh("ip", "addr", "add", f"{self.gateway}/30", "dev", self.outside)
        sh("ip", "link", "set", self.outside, "up")
        for command in (("ip", "addr", "add", f"{self.address}/30", "dev", self.inside),
                        ("ip", "link", "set", self.inside, "up"), ("ip", "link", "set", "lo", "up")):
            sh("ip", "netns", "exec", self.netns, *command)

    def start(self, command, env, log):
        self.process = subprocess.Popen(["ip", "netns", "exec", self.netns, *command], env=env, cwd=ROOT,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def remove(self):
        self.kill()
        sh("ip", "link", "del", self.outside, check=False)
        sh("ip", "netns", "del", self.netns, check=False)


class Sink:
    """Counts messages by Message-ID."""

    def __init__(self):
        self.received = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.decode(errors="replace").splitlines():
            if line.lower().startswith("message-id:"):
                with self.lock:
                    self.received[line.split(":", 1)[1].strip()] += 1
                break
        return "250 OK"


class Clients:
    """Bounded load: `operations` requests from `threads` threads over the live web hosts,
    each retried (on the next web host) when a connection fails or the answer is a 502/503."""

    def __init__(self, users, bases, first_day):
        self.users, self.bases = users, bases
        self.local = threading.local()
        self.day = (datetime.now(timezone.utc) + timedelta(days=first_day)).replace(hour=0, minute=0, second=0,
                                                                                    microsecond=0)

    def session(self):
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def request(self, method, path, user, body=None):
        start = random.randrange(len(self.bases))
        for attempt in range(ATTEMPTS):
            base = self.bases[(start + attempt) % len(self.bases)]
            try:
                r = self.session().request(method, base + path, json=body, timeout=REQUEST_TIMEOUT,
                                           headers={"Authorization": f"Bearer {user['token']}"})
                if r.status_code not in (502, 503):
                    return r.status_code, attempt
            except requests.RequestException:
                self.local.session = requests.Session()
            time.sleep(0.05 * (attempt + 1))
        return None, attempt

    def one(self, n):
        rng = random.Random(n)
        user = rng.choice(self.users)
        if rng.random() < 0.6:
            others = rng.sample([u for u in self.users if u is not user], 2)
            start = self.day + timedelta(days=rng.randrange(3), minutes=30 * rng.randrange(20))
            body = {"title": f"Sync {n}", "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
                    "attendees": [u["id"] for u in others]}
            return self.request("POST", "/api/v1/bookings", user, body)
        return self.request("GET", "/api/v1/bookings", user)

    def run(self, operations, threads, first=0, midway=None):
        """{status: count}, retries, seconds. `midway()` runs once a third of the way in."""
        statuses, retries = collections.Counter(), 0
        began = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(self.one, first + n) for n in range(operations)]
            for done, future in enumerate(futures):
                status, tries = future.result(timeout=REQUEST_TIMEOUT * ATTEMPTS * 2)
                statuses[status] += 1
                retries += tries
                if midway and done == operations // 3:
                    midway()
        return statuses, retries, time.monotonic() - began


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready within {seconds}s")


def query(dsn, sql):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


OVERLAPS = """
SELECT count(*) FROM booking_attendees a JOIN booking_attendees b
  ON a.user_id = b.user_id AND a.booking_id < b.booking_id
 AND tstzrange(a.block_start, a.block_end) && tstzrange(b.block_start, b.block_end)
WHERE a.confirmed AND b.confirmed AND a.status <> 'declined' AND b.status <> 'declined'
"""
UNSENT_DUE = "SELECT id, status FROM email_outbox WHERE status IN ('pending', 'sending') AND send_after <= now() ORDER BY id"
SENT = "SELECT id, created_at FROM email_outbox WHERE status = 'sent'"
UNSENT_DUE_IDS = "SELECT id FROM email_outbox WHERE status IN ('pending', 'sending') AND send_after <= now()"


def setup_users(base):
    s = requests.Session()
    users = []
    for n in range(USERS):
        r = s.post(f"{base}/api/v1/auth/register", timeout=REQUEST_TIMEOUT,
                   json={"name": f"User {n}", "email": f"u{n}-{uuid.uuid4().hex[:6]}@example.com", "password": "secure123"})
        r.raise_for_status()
        users.append({"id": r.json()["user"]["id"], "email": r.json()["user"]["email"], "token": r.json()["token"]})
    auth = {"Authorization": f"Bearer {users[0]['token']}"}
    org = s.post(f"{base}/api/v1/organizations", json={"name": "Load"}, headers=auth, timeout=REQUEST_TIMEOUT).json()
    for user in users[1:]:
        s.post(f"{base}/api/v1/organizations/{org['organization']['id']}/members", json={"email": user["email"]},
               headers=auth, timeout=REQUEST_TIMEOUT).raise_for_status()
        s.post(f"{base}/api/v1/organizations/{org['organization']['id']}/accept", timeout=REQUEST_TIMEOUT,
               headers={"Authorization": f"Bearer {user['token']}"}).raise_for_status()
    return users


def machine():
    memory = next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {int(memory) // 1024} MiB, Linux {platform.release()}"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=300, help="requests per round")
    parser.add_argument("--threads", type=int, default=16, help="concurrent clients")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("scale_out.py creates network namespaces: run it as root")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the `finally` below cleans up
    hosts = {name: Host(name, index) for index, name in enumerate(("web1", "web2", "worker1", "worker2"), 1)}
    logdir = Path(f"/tmp/scheduler-scale-out-{TAG}")
    logdir.mkdir(exist_ok=True)
    postgres = redis_server = None
    controllers = []
    try:
        for host in hosts.values():
            host.create()
        gateways = [host.gateway for host in hosts.values()]
        postgres = PrivatePostgres(listen=gateways)
        local_dsn = postgres.start()
        redis_server = PrivateRedis(bind=gateways, port=REDIS_PORT)
        redis_server.start()
        sink = Sink()
        for host in (hosts["worker1"], hosts["worker2"]):
            controllers.append(Controller(sink, hostname=host.gateway, port=SMTP_PORT))
            controllers[-1].start()
        migrate(local_dsn)

        # Every process writes links on one public address, as behind a load balancer (web1's here).
        def env(host):
            return {**os.environ, "APP_ENV": "test", "JWT_SECRET": "scale-out-" + "x" * 32, "BCRYPT_ROUNDS": "4",
                    "DATABASE_URL": f"postgresql://postgres@{host.gateway}:{PG_PORT}/scheduler",
                    "REDIS_URL": f"redis://{host.gateway}:{REDIS_PORT}/0", "HOST": host.address,
                    "PORT": str(WEB_PORT), "PUBLIC_BASE_URL": f"http://{hosts['web1'].address}:{WEB_PORT}",
                    "WEB_CONCURRENCY": "2", "WEB_THREADS": "8", "LOG_LEVEL": "INFO",
                    "EMAIL_PROVIDER": "smtp", "SMTP_URL": f"smtp://{host.gateway}:{SMTP_PORT}",
                    "OUTBOX_POLL_SECONDS": "1", "OUTBOX_REQUEUE_AFTER": "5"}
        python = sys.executable
        for name in ("web1", "web2"):
            hosts[name].start([python, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"], env(hosts[name]),
                              open(logdir / f"{name}.log", "w"))
        for name in ("worker1", "worker2"):
            hosts[name].start([python, "worker.py"], env(hosts[name]), open(logdir / f"{name}.log", "w"))
        bases = {name: f"http://{hosts[name].address}:{WEB_PORT}" for name in ("web1", "web2")}
        for name, base in bases.items():
            wait_for(lambda base=base: requests.get(base + "/health", timeout=2).ok, 60, name)

        users = setup_users(bases["web1"])
        rounds = []
        for label, names, midway in (("1 web host", ["web1"], None), ("2 web hosts", ["web1", "web2"], None),
                                     ("2 web hosts, web2 + worker2 killed", ["web1", "web2"],
                                      lambda: (hosts["web2"].kill(), hosts["worker2"].kill()))):
            # Each round books its own 3 days, so each meets the same contention.
            statuses, retries, seconds = Clients(users, [bases[n] for n in names], 2 + 3 * len(rounds)).run(
                args.operations, args.threads, first=len(rounds) * args.operations, midway=midway)
            rounds.append((label, statuses, retries, seconds))

        # The dead worker's email in hand stays `sending` until its lease (5 min) runs out: once
        # nothing has moved for 10 s, end those leases, as time would.
        deadline, last, still_since = time.monotonic() + DRAIN_SECONDS, None, time.monotonic()
        retaken = set()
        while time.monotonic() < deadline:
            unsent = query(local_dsn, UNSENT_DUE)
            if not unsent:
                break
            if unsent != last:
                last, still_since = unsent, time.monotonic()
            elif time.monotonic() - still_since > 10:
                ended = query(local_dsn, "UPDATE email_outbox SET locked_until = now() - interval '1 second'"
                                         " WHERE status = 'sending' AND locked_until > now() RETURNING id")
                if not ended:
                    break  # stuck: no lease to end, and the sweeps send nothing
                retaken.update(row_id for (row_id,) in ended)
                still_since = time.monotonic()  # the sweeps' turn, as after a lease that ran out
            time.sleep(0.5)
        overlaps = query(local_dsn, OVERLAPS)[0][0]
        unsent = [row_id for (row_id,) in query(local_dsn, UNSENT_DUE_IDS)]
        sent = query(local_dsn, SENT)
        with sink.lock:
            received = dict(sink.received)
        message_ids = {row_id: f"<outbox-{row_id}.{int(created.timestamp())}@scheduler.local>" for row_id, created in sent}
        lost = len(set(message_ids.values()) - set(received)) + len(unsent)
        # The one repeat the outbox allows: the email a worker had in hand when it was killed,
        # after the SMTP server took it and before the send was recorded; it is sent again, with
        # the same Message-ID, once its lease is retaken. Any other repeat is a failure.
        in_hand = {message_ids[row_id] for row_id in retaken if row_id in message_ids}
        repeats = {message_id: count - 1 for message_id, count in received.items() if count > 1}
        in_hand_repeats = sum(count for message_id, count in repeats.items() if message_id in in_hand)
        duplicates = sum(repeats.values()) - in_hand_repeats
        report(rounds, overlaps, len(sent), sum(received.values()), lost, duplicates, in_hand_repeats)
        return 0 if overlaps == 0 and lost == 0 and duplicates == 0 and all(
            None not in statuses for _, statuses, _, _ in rounds) else 1
    finally:
        for host in hosts.values():
            host.stop()
        for controller in controllers:
            controller.stop()
        for service in (redis_server, postgres):
            if service:
                service.stop()
        for host in hosts.values():
            host.remove()
        print(f"(logs of the hosts: {logdir})")


def report(rounds, overlaps, sent, received, lost, duplicates, in_hand_repeats):
    print(f"\nscale-out run, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}\n")
    print("| round | requests | 201 | 409 | 200 (reads) | failed | retries | seconds | requests/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, statuses, retries, seconds in rounds:
        total = sum(statuses.values())
        print(f"| {label} | {total} | {statuses[201]} | {statuses[409]} | {statuses[200]} | "
              f"{total - statuses[201] - statuses[409] - statuses[200]} | {retries} | {seconds:.1f} | {total / seconds:.0f} |")
    print(f"\n| check | result |\n|---|---|\n| overlapping confirmed commitments of one person | {overlaps} |"
          f"\n| emails sent (outbox rows) / received at the sink | {sent} / {received} |"
          f"\n| lost emails (sent or due but not received) | {lost} |"
          f"\n| repeats of the email the killed worker had in hand (same Message-ID, lease retaken) | {in_hand_repeats} |"
          f"\n| other duplicate emails (same Message-ID twice) | {duplicates} |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
