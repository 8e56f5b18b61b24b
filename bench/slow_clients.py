"""What slow and idle clients do to everyone else: opens connections that send request
headers one byte a second and connections that send nothing (both reopened when the server
drops them, as an attacker would), and meanwhile times ordinary GET /health requests.

    DATABASE_URL=... REDIS_URL=... python bench/slow_clients.py [--slow 200] [--idle 2000]
        [--seconds 20] [--nginx] [--gunicorn-args "--keep-alive 2 --threads 64"]

Starts gunicorn (gunicorn.conf.py plus --gunicorn-args) on a free port, with --nginx behind
deploy/nginx run unprivileged; tests/test_slow_clients.py uses the same pieces. Traffic goes
to 127.0.0.1 only.
"""

import argparse
import http.client
import os
import re
import resource
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy", "nginx")
SLOW_HEADER = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 100_000
PROBE_TIMEOUT = 5.0


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit(needed):
    """Each client is a descriptor here: raises the soft limit toward the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_for_http(port, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    raise RuntimeError(f"nothing answered on port {port}")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def start_gunicorn(env, port, extra_args=()):
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py", *extra_args],
        cwd=ROOT, env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(port)
    except RuntimeError:
        stop(process)
        raise
    return process


def substituted(text, replacements):
    """`text` with each (old, new[, times]) replaced; each `old` must occur exactly `times`
    (default once), so a change to the deploy files can't silently leave the test running
    something else."""
    for old, new, *times in replacements:
        expected = times[0] if times else 1
        count = len(re.findall(re.escape(old), text))
        if count != expected:
            raise ValueError(f"{old!r} occurs {count} times, expected {expected}")
        text = text.replace(old, new)
    return text


def nginx_config(directory, listen_port, upstream_port):
    """deploy/nginx as it is, with only the paths, ports, user and server name changed so that
    it runs unprivileged from `directory` and serves the host 127.0.0.1 (the access log is
    `directory`/access.log). Returns the main config's path."""
    with open(os.path.join(DEPLOY, "scheduler.conf")) as f:
        site = substituted(f.read(), [
            ("listen 80 default_server;", f"listen 127.0.0.1:{listen_port} default_server;"),
            ("listen [::]:80 default_server;", ""),
            ("listen 80;", f"listen 127.0.0.1:{listen_port};"),
            ("listen [::]:80;", ""),
            ("server_name book.example.com;", "server_name 127.0.0.1;"),
            ("access_log /var/log/nginx/scheduler.access.log", f"access_log {directory}/access.log", 2),
            ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ])
    with open(os.path.join(directory, "scheduler.conf"), "w") as f:
        f.write(site)
    temp = "".join(f"    {kind}_temp_path {directory}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(os.path.join(DEPLOY, "nginx.conf")) as f:
        main = substituted(f.read(), [
            # As root nginx would switch to www-data, which can't enter a private temp directory.
            ("user www-data;", "user root;" if os.geteuid() == 0 else ""),
            ("pid /run/nginx.pid;", f"pid {directory}/nginx.pid;"),
            ("error_log /var/log/nginx/error.log;", f"error_log {directory}/error.log;"),
            ("include /etc/nginx/modules-enabled/*.conf;", ""),
            ("access_log /var/log/nginx/access.log;", f"access_log off;\n{temp}"),
            ("include /etc/nginx/conf.d/*.conf;", ""),
            ("include /etc/nginx/sites-enabled/*;", f"include {directory}/scheduler.conf;"),
        ])
    path = os.path.join(directory, "nginx.conf")
    with open(path, "w") as f:
        f.write(main)
    return path


def nginx_binary():
    found = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not found:
        raise RuntimeError("nginx is not installed (Debian: nginx-light)")
    return found


def start_nginx(directory, listen_port, upstream_port):
    config = nginx_config(directory, listen_port, upstream_port)
    nginx = nginx_binary()
    command = [nginx, "-p", directory, "-c", config, "-e", os.path.join(directory, "error.log")]
    subprocess.run([*command, "-t", "-q"], check=True)
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(listen_port)
    except RuntimeError:
        stop(process)
        raise
    return process


class Attackers:
    """Keeps `slow` connections dribbling request headers (one byte a second each) and `idle`
    connections silent, reopening any the server closes, until stopped."""

    def __init__(self, port, *, slow, idle):
        self.port, self.slow, self.idle = port, slow, idle
        self.stopping = threading.Event()
        self.reopened = 0
        self.open_failures = 0
        self.thread = threading.Thread(target=self.run, name="attackers", daemon=True)

    def connect(self):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))  # completes in the background
        return sock

    def run(self):
        selector = selectors.DefaultSelector()
        sent = {}  # slow socket -> bytes of the header sent so far
        sockets = []
        for i in range(self.slow + self.idle):
            sock = self.connect()
            sockets.append(sock)
            if i < self.slow:
                sent[sock] = 0
            selector.register(sock, selectors.EVENT_READ)
        while not self.stopping.is_set():
            tick = time.monotonic() + 1
            for sock in list(sent):
                try:
                    sock.send(SLOW_HEADER[sent[sock]:sent[sock] + 1])
                    sent[sock] += 1
                except (BlockingIOError, InterruptedError):
                    pass  # not connected yet: the server has not accepted it
                except OSError:
                    pass  # closed by the server: the read side below reopens it
            while (left := tick - time.monotonic()) > 0 and not self.stopping.is_set():
                for key, _ in selector.select(timeout=left):
                    self.reopen(selector, key.fileobj, sent)
        for sock in sockets_of(selector):
            sock.close()
        selector.close()

    def reopen(self, selector, sock, sent):
        """The server answered (a timeout page) or closed: drop it and open another."""
        try:
            if sock.recv(65536):
                return  # an answer before closing; the close comes next
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        selector.unregister(sock)
        slow = sent.pop(sock, None) is not None
        sock.close()
        try:
            fresh = self.connect()
        except OSError:
            self.open_failures += 1
            return
        self.reopened += 1
        if slow:
            sent[fresh] = 0
        selector.register(fresh, selectors.EVENT_READ)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(10)


def sockets_of(selector):
    return [key.fileobj for key in list(selector.get_map().values())]


@dataclass
class Probe:
    latencies: list  # seconds; a failed or timed-out request counts as PROBE_TIMEOUT
    failures: int

    def percentile(self, p):
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    def summary(self):
        return (f"{len(self.latencies)} requests, {self.failures} failed, p50 {self.percentile(50) * 1000:.1f} ms, "
                f"p99 {self.percentile(99) * 1000:.1f} ms, max {max(self.latencies) * 1000:.1f} ms")


def probe(port, seconds, interval=0.05):
    """Ordinary GET /health requests, each on a new connection, for `seconds`."""
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        latencies.append(elapsed if ok else max(elapsed, PROBE_TIMEOUT))
        failures += not ok
        time.sleep(max(0.0, interval - elapsed))
    return Probe(latencies, failures)


def under_attack(port, *, slow, idle, seconds, ramp=3.0):
    """Probes `port` while the attackers run; returns the probe and the attackers."""
    raise_fd_limit(slow + idle + 1000)
    with Attackers(port, slow=slow, idle=idle) as attackers:
        time.sleep(ramp)
        result = probe(port, seconds)
    return result, attackers


def process_tree_usage(pid):
    """(resident MiB, threads) of a process and its children, from /proc."""
    pids, rss_kib, threads = [pid], 0, 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            pids += [int(child) for child in f.read().split()]
    for each in pids:
        with open(f"/proc/{each}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        rss_kib += int(fields["VmRSS"].split()[0])
        threads += int(fields["Threads"])
    return rss_kib / 1024, threads


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--nginx", action="store_true")
    parser.add_argument("--gunicorn-args", default="")
    args = parser.parse_args()
    raise_fd_limit(args.slow + args.idle + 1000)  # before the servers start: they inherit it
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    web_port = free_port()
    web = start_gunicorn(env, web_port, shlex.split(args.gunicorn_args))
    proxy, port = None, web_port
    directory = tempfile.mkdtemp(prefix="scheduler-nginx-")
    try:
        if args.nginx:
            port = free_port()
            proxy = start_nginx(directory, port, web_port)
        print("quiet:       ", probe(port, 3).summary())
        print("gunicorn before: %.0f MiB, %d threads" % process_tree_usage(web.pid))
        result, attackers = under_attack(port, slow=args.slow, idle=args.idle, seconds=args.seconds)
        print("under attack:", result.summary(), f"({attackers.reopened} attacker connections reopened)")
        print("gunicorn after:  %.0f MiB, %d threads" % process_tree_usage(web.pid))
        print("after:       ", probe(port, 3).summary())
    finally:
        if proxy:
            stop(proxy)
        stop(web)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
