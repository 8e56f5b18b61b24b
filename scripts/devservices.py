"""Runs a command with PostgreSQL and Redis available, starting private ones when needed.

    python scripts/devservices.py [--tools PROGRAM:PACKAGE,...] -- COMMAND [ARGS...]

If DATABASE_URL is unset, a throw-away PostgreSQL cluster is created in a temporary
directory and served on a Unix socket only (so it never touches a server already running);
likewise a private redis-server when REDIS_URL is unset. Missing server binaries are
installed from Debian's packages when running as root. Everything private is stopped and
deleted when the command ends, including on Ctrl-C. `--tools` names programs the command
needs (the tests' browser, nginx, PgBouncer) and the Debian package of each, installed the
same way when missing.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PG_USER = "postgres"


def log(message):
    print(f"[devservices] {message}", file=sys.stderr, flush=True)


def apt_install(*packages):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"[devservices] please install {' '.join(packages)} (or set DATABASE_URL / REDIS_URL)")
    log(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


# Debian puts nginx and pgbouncer in sbin, which a non-root PATH may lack.
TOOL_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def ensure_tools(spec):
    """`spec` is "program:package,..."; installs the packages of the programs not on PATH."""
    pairs = [item.split(":", 1) for item in spec.split(",") if item]
    missing = [package for program, package in pairs if not shutil.which(program, path=TOOL_PATH)]
    if missing:
        apt_install(*missing)



def postgres_bindir():
    def find():
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                            key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
        if candidates:
            return os.path.dirname(candidates[-1])
        found = shutil.which("postgres")
        return os.path.dirname(found) if found else None

    bindir = find()
    if bindir is None:
        apt_install("postgresql", "postgresql-contrib")
        bindir = find()
    return bindir


def as_server_user(command):
    """PostgreSQL refuses to run as root: as root, run it as the unprivileged postgres user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", PG_USER, "--", *command]


class PrivatePostgres:
    """`listen`: addresses to serve TCP on too (scripts/scale_out.py's hosts), trusting clients
    of the subnets the server is on; by default a Unix socket only."""

    def __init__(self, listen=()):
        self.listen = ",".join(listen)
        self.bindir = postgres_bindir()
        # Under /tmp rather than the (possibly root-owned) project directory.
        self.root = tempfile.mkdtemp(prefix="scheduler-pg-", dir="/tmp")
        self.data = os.path.join(self.root, "data")
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(PG_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
            shutil.chown(self.root, PG_USER, PG_USER)
            os.chmod(self.root, 0o755)

    def start(self):
        """Creates the cluster and its `scheduler` database, starts it; returns its URL."""
        subprocess.run(as_server_user([f"{self.bindir}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                                       "-E", "UTF8", "--locale=C", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL)
        if self.listen:
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as hba:
                hba.write("host all all samenet trust\n")
        self.resume()
        subprocess.run([f"{self.bindir}/createdb", "-h", self.root, "-U", "postgres", "scheduler"], check=True)
        return f"postgresql://postgres@/scheduler?host={self.root}"

    def resume(self):
        """Starts the server on the existing cluster (again, after `halt`)."""
        options = (f"-k {self.root} -c listen_addresses='{self.listen}' -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c max_connections=200")
        subprocess.run(as_server_user([f"{self.bindir}/pg_ctl", "-D", self.data, "-l",
                                       os.path.join(self.root, "server.log"), "-o", options, "-w", "start"]),
                       check=True, stdout=subprocess.DEVNULL, start_new_session=True)

    def halt(self, mode="fast"):
        """Stops the server and keeps the cluster, for `resume` (the tests' outages)."""
        subprocess.run(as_server_user([f"{self.bindir}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        self.halt("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """`bind`: addresses to serve TCP on `port` too; by default a Unix socket only."""

    def __init__(self, bind=(), port=0):
        self.bind, self.port = list(bind), port
        if not shutil.which("redis-server"):
            apt_install("redis-server")
        self.root = tempfile.mkdtemp(prefix="scheduler-redis-", dir="/tmp")
        self.socket = os.path.join(self.root, "redis.sock")
        self.process = None

    def start(self):
        """Starts the server (again, after `halt`); returns its URL."""
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port),
             *(["--bind", *self.bind, "--protected-mode", "no"] if self.bind else []),
             "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", self.root],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if time.monotonic() > deadline or self.process.poll() is not None:
                sys.exit("[devservices] redis-server did not start")
            time.sleep(0.05)
        return f"unix://{self.socket}?db=0"

    def halt(self):
        """Stops the server and keeps its directory, for `start` (the tests' outages)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def stop(self):
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv):
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit(__doc__)
    command = argv[argv.index("--") + 1:]
    options = argv[:argv.index("--")]
    if options[:1] == ["--tools"] and len(options) == 2:
        ensure_tools(options[1])
    elif options:
        sys.exit(__doc__)
    started = []
    try:
        if not os.environ.get("DATABASE_URL"):
            postgres = PrivatePostgres()
            started.append(postgres)
            os.environ["DATABASE_URL"] = postgres.start()
            log(f"private PostgreSQL: DATABASE_URL={os.environ['DATABASE_URL']}")
        if not os.environ.get("REDIS_URL"):
            private_redis = PrivateRedis()
            started.append(private_redis)
            os.environ["REDIS_URL"] = private_redis.start()
            log(f"private Redis: REDIS_URL={os.environ['REDIS_URL']}")
        child = subprocess.Popen(command)
        # Ctrl-C reaches the child through the terminal; wait for it to finish its own shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()
    finally:
        for service in reversed(started):
            service.stop()
        if started:
            log("private services stopped and removed")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
