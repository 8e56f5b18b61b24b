"""Runs a command with PostgreSQL and Redis available, starting private ones when needed.

    python scripts/devservices.py [--tools PROGRAM:PACKAGE,...] [--keep DIR] [--ctrl-c-ok] -- COMMAND [ARGS...]
    python scripts/devservices.py --reset DIR

If DATABASE_URL is unset, a private PostgreSQL cluster is served on a Unix socket only (so it
never touches a server already running); likewise a private redis-server when REDIS_URL is
unset. Missing server binaries are installed from Debian's packages when running as root.
Without `--keep` the clusters are throw-away: created in a temporary directory, stopped and
deleted when the command ends, including on Ctrl-C (`make test`). With `--keep DIR` (`make
run`) their data lives in DIR/postgres and DIR/redis and is kept between runs; one run at a
time holds DIR/lock, and `--reset DIR` (`make reset`) deletes DIR when no run holds it.
`--tools` names programs the command needs (the tests' browser, nginx, PgBouncer) and the
Debian package of each, installed the same way when missing.

On a terminal, the command runs as the terminal's foreground job, so Ctrl-C reaches it alone
and not `make` above us. `--ctrl-c-ok`: the command runs until Ctrl-C (`make run`), so ending
because of it (status 130, or killed by SIGINT) is success, status 0.
"""

import argparse
import errno
import fcntl
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


def server_user_can_reach(directory):
    """As root the servers' files belong to the postgres user, who must be able to get there."""
    if os.geteuid() != 0:
        return True
    return subprocess.run(as_server_user(["test", "-x", directory]), stderr=subprocess.DEVNULL).returncode == 0


def last_lines(path, count=15):
    try:
        with open(path, errors="replace") as file:
            return "".join(file.readlines()[-count:])
    except OSError:
        return ""


class PrivatePostgres:
    """`listen`: addresses to serve TCP on too (scripts/scale_out.py's hosts), trusting clients
    of the subnets the server is on; by default a Unix socket only. `data_dir`: where the
    cluster is kept between runs (made on the first); by default a throw-away one."""

    def __init__(self, listen=(), data_dir=None):
        self.listen = ",".join(listen)
        self.bindir = postgres_bindir()
        self.kept = data_dir is not None
        # The socket (and a throw-away cluster) under /tmp: a socket's path must be short, and
        # the (possibly root-owned) project directory may be closed to the postgres user.
        self.root = tempfile.mkdtemp(prefix="scheduler-pg-", dir="/tmp")
        self.data = os.path.abspath(data_dir) if self.kept else os.path.join(self.root, "data")
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(PG_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
            shutil.chown(self.root, PG_USER, PG_USER)
            os.chmod(self.root, 0o755)

    def start(self):
        """Creates the cluster and its `scheduler` database unless they exist, starts it; returns its URL."""
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self.create()
        else:
            self.check_version()
            self.stop_leftover()
        self.resume()
        if not self.kept or not self.has_database():
            subprocess.run([f"{self.bindir}/createdb", "-h", self.root, "-U", "postgres", "scheduler"], check=True)
        return f"postgresql://postgres@/scheduler?host={self.root}"

    def create(self):
        # A kept cluster is made beside its place and moved there whole, so that a run stopped
        # halfway leaves nothing half-made for the next one to start.
        target = self.data + ".new" if self.kept else self.data
        if self.kept:
            if os.path.exists(self.data) and os.listdir(self.data):
                sys.exit(f"[devservices] {self.data} is not a PostgreSQL cluster: move it away or `make reset`")
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(target, mode=0o700)
            if os.geteuid() == 0:
                shutil.chown(target, PG_USER, PG_USER)
            log(f"creating a PostgreSQL cluster in {self.data}, kept between runs")
        subprocess.run(as_server_user([f"{self.bindir}/initdb", "-D", target, "-U", "postgres", "--auth=trust",
                                       "-E", "UTF8", "--locale=C", *([] if self.kept else ["--no-sync"])]),
                       check=True, stdout=subprocess.DEVNULL)
        if self.listen:
            with open(os.path.join(target, "pg_hba.conf"), "a") as hba:
                hba.write("host all all samenet trust\n")
        if self.kept:
            if os.path.exists(self.data):
                os.rmdir(self.data)  # empty (checked above)
            os.rename(target, self.data)

    def check_version(self):
        with open(os.path.join(self.data, "PG_VERSION")) as file:
            made_by = file.read().strip()
        version = subprocess.run([f"{self.bindir}/postgres", "--version"], capture_output=True, text=True).stdout
        major = version.split()[-1].split(".")[0] if version.strip() else made_by
        if major != made_by:
            sys.exit(f"[devservices] {self.data} was made by PostgreSQL {made_by}, this is {major}: "
                     f"`make reset` starts an empty one (its data is lost), or pg_upgrade it")

    def stop_leftover(self):
        # A run killed outright (SIGKILL) leaves its server running; holding the data's lock,
        # this run knows that server is no one else's.
        running = subprocess.run(as_server_user([f"{self.bindir}/pg_ctl", "-D", self.data, "status"]),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        if running:
            log(f"stopping the PostgreSQL an earlier run left running on {self.data}")
            self.halt()

    def has_database(self):
        found = subprocess.run([f"{self.bindir}/psql", "-h", self.root, "-U", "postgres", "-d", "postgres", "-tAc",
                                "SELECT 1 FROM pg_database WHERE datname = 'scheduler'"],
                               capture_output=True, text=True, check=True).stdout
        return found.strip() == "1"

    def resume(self):
        """Starts the server on the existing cluster (again, after `halt`)."""
        options = f"-k {self.root} -c listen_addresses='{self.listen}' -c synchronous_commit=off -c max_connections=200"
        if not self.kept:
            # Safe only for data that is thrown away anyway: a crash could corrupt it.
            options += " -c fsync=off -c full_page_writes=off"
        server_log = os.path.join(self.root, "server.log")
        started = subprocess.run(as_server_user([f"{self.bindir}/pg_ctl", "-D", self.data, "-l", server_log,
                                                 "-o", options, "-w", "start"]),
                                 stdout=subprocess.DEVNULL, start_new_session=True)
        if started.returncode:
            sys.exit(f"[devservices] PostgreSQL did not start on {self.data}:\n{last_lines(server_log)}"
                     + ("(`make reset` deletes the kept data for an empty cluster)" if self.kept else ""))

    def halt(self, mode="fast"):
        """Stops the server and keeps the cluster, for `resume` (the tests' outages)."""
        subprocess.run(as_server_user([f"{self.bindir}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        """Stops the server; deletes a throw-away cluster, keeps a kept one."""
        self.halt("fast" if self.kept else "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """`bind`: addresses to serve TCP on `port` too; by default a Unix socket only. `data_dir`:
    where its data is saved (every minute after a change, and when it stops) and read back
    from at the next start; by default nothing is saved."""

    def __init__(self, bind=(), port=0, data_dir=None):
        self.bind, self.port = list(bind), port
        if not shutil.which("redis-server"):
            apt_install("redis-server")
        self.root = tempfile.mkdtemp(prefix="scheduler-redis-", dir="/tmp")
        self.socket = os.path.join(self.root, "redis.sock")
        self.data = os.path.abspath(data_dir) if data_dir else None
        self.process = None

    def start(self):
        """Starts the server (again, after `halt`); returns its URL."""
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        if self.data:
            os.makedirs(self.data, exist_ok=True)
            self.stop_leftover()
            storage = ["--save", "60 1", "--dir", self.data, "--pidfile", os.path.join(self.data, "redis.pid")]
        else:
            storage = ["--save", "", "--dir", self.root]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port),
             *(["--bind", *self.bind, "--protected-mode", "no"] if self.bind else []),
             "--unixsocket", self.socket, "--unixsocketperm", "700", "--appendonly", "no", *storage],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if time.monotonic() > deadline or self.process.poll() is not None:
                sys.exit("[devservices] redis-server did not start")
            time.sleep(0.05)
        return f"unix://{self.socket}?db=0"

    def stop_leftover(self):
        """A run killed outright leaves its redis-server running, still saving into our directory."""
        try:
            with open(os.path.join(self.data, "redis.pid")) as file:
                pid = int(file.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if b"redis-server" not in file.read():
                    return
        except (OSError, ValueError):
            return
        log(f"stopping the redis-server an earlier run left running on {self.data}")
        os.kill(pid, signal.SIGTERM)  # it saves first
        deadline = time.monotonic() + 30
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.1)

    def halt(self):
        """Stops the server and keeps its directory, for `start` (the tests' outages)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30 if self.data else 10)  # a kept one saves its data first

    def stop(self):
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


class KeptData:
    """The directory `--keep` names: the servers' data, used by one run at a time."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.postgres = os.path.join(self.path, "postgres")
        self.redis = os.path.join(self.path, "redis")
        self.lock_fd = None

    def lock(self):
        """Holds DIR/lock until this process ends, or exits saying who holds it."""
        if not os.path.isdir(self.path):
            os.makedirs(self.path)
            os.chmod(self.path, 0o755)  # as root, the postgres user goes through it
        fd = os.open(os.path.join(self.path, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            sys.exit(f"[devservices] {self.path} is in use by another run (process {holder}, perhaps another "
                     f"`make run`): stop that one first, or give this one DATABASE_URL and REDIS_URL of its own")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.lock_fd = fd


def reset(path):
    """Deletes the kept data (`make reset`), unless a run is using it."""
    kept = KeptData(path)
    if not os.path.isdir(kept.path):
        log(f"nothing to reset: {kept.path} does not exist")
        return
    kept.lock()
    shutil.rmtree(kept.path)
    log(f"deleted {kept.path}: the next run starts with an empty database, Redis and inbox")


def wait_in_foreground(command):
    """Runs `command` and returns its exit status. On a terminal it runs as the foreground job
    (its own process group, given the terminal), as a shell would run it: Ctrl-C then reaches
    the command alone and not `make` above us, which would call the run a failure (`Error
    130`, `Interrupt`) however cleanly the command stopped. Ctrl-Z stops the command and us."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        tty = None
    if tty is not None and os.tcgetpgrp(tty) != os.getpgrp():  # in the background: leave the terminal be
        os.close(tty)
        tty = None

    def give_terminal(pgrp):
        previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(tty, pgrp)
        except OSError:
            pass  # the group has already gone
        finally:
            signal.signal(signal.SIGTTOU, previous)

    def take_terminal_in_child():
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            fd = os.open("/dev/tty", os.O_RDWR)
            os.tcsetpgrp(fd, os.getpgrp())
            os.close(fd)
        except OSError:
            pass  # the parent gives it the terminal too
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)

    child = subprocess.Popen(command, preexec_fn=take_terminal_in_child if tty is not None else None)
    # Without a terminal (a signal to our whole group), the command gets SIGINT itself and
    # stops in its own time; SIGTERM and SIGHUP are passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    signal.signal(signal.SIGHUP, lambda *_: child.terminate())  # the terminal closed: clean up all the same
    if tty is not None:
        try:
            os.setpgid(child.pid, child.pid)  # as the child does: whichever comes first
        except OSError:
            pass
        give_terminal(child.pid)
    try:
        while True:
            _, status = os.waitpid(child.pid, os.WUNTRACED)
            if not os.WIFSTOPPED(status):
                child.returncode = os.waitstatus_to_exitcode(status)
                return child.returncode
            # Ctrl-Z: stop `make` and us too, so the shell gets its prompt back; on `fg`, go on.
            if tty is not None:
                give_terminal(os.getpgrp())
            os.killpg(os.getpgrp(), signal.SIGTSTP)
            if tty is not None:
                give_terminal(child.pid)
            os.killpg(child.pid, signal.SIGCONT)
    finally:
        if tty is not None:
            give_terminal(os.getpgrp())
            os.close(tty)


def main(argv):
    split = argv.index("--") if "--" in argv else len(argv)
    options, command = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(prog="devservices.py", usage=__doc__)
    parser.add_argument("--tools")
    parser.add_argument("--keep", metavar="DIR")
    parser.add_argument("--reset", metavar="DIR")
    parser.add_argument("--ctrl-c-ok", action="store_true")
    args = parser.parse_args(options)
    if args.reset:
        reset(args.reset)
        return 0
    if not command:
        sys.exit(__doc__)
    if args.tools:
        ensure_tools(args.tools)
    started, kept = [], None
    try:
        if args.keep and not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
            kept = KeptData(args.keep)
            kept.lock()
        if not os.environ.get("DATABASE_URL"):
            data_dir = kept.postgres if kept else None
            if kept and not server_user_can_reach(kept.path):
                log(f"the {PG_USER} user cannot reach {kept.path} (a directory above it is closed to others): "
                    f"this PostgreSQL is a throw-away one")
                data_dir = None
            postgres = PrivatePostgres(data_dir=data_dir)
            started.append(postgres)
            os.environ["DATABASE_URL"] = postgres.start()
            log(f"private PostgreSQL: DATABASE_URL={os.environ['DATABASE_URL']}")
        if not os.environ.get("REDIS_URL"):
            private_redis = PrivateRedis(data_dir=kept.redis if kept else None)
            started.append(private_redis)
            os.environ["REDIS_URL"] = private_redis.start()
            log(f"private Redis: REDIS_URL={os.environ['REDIS_URL']}")
        if kept:
            log(f"data kept in {kept.path} between runs (`make reset` deletes it)")
        status = wait_in_foreground(command)
        if status < 0:  # killed by a signal: as a shell reports it (sys.exit would wrap it around)
            status = 128 - status
        return 0 if args.ctrl_c_ok and status == 128 + signal.SIGINT else status
    except KeyboardInterrupt:  # Ctrl-C while the servers were starting
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        for service in reversed(started):
            service.stop()
        if started:
            log("private services stopped" + (f", their data kept in {kept.path}" if kept else " and removed"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
