"""scripts/devservices.py: the private PostgreSQL and Redis of `make run` (kept in a directory,
one run at a time, `make reset`) and of `make test` (thrown away), and how Ctrl-C ends a run."""

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEVSERVICES = str(ROOT / "scripts" / "devservices.py")

# Counts its runs in the database and in Redis, and says where the database's files are.
COUNT_RUNS = textwrap.dedent("""
    import os, psycopg2, redis
    with psycopg2.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS runs (n serial)")
        cur.execute("INSERT INTO runs DEFAULT VALUES")
        cur.execute("SELECT count(*) FROM runs")
        runs = cur.fetchone()[0]
        cur.execute("SHOW data_directory")
        data = cur.fetchone()[0]
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    print(runs, client.incr("runs"), data)
""")


def without_services():
    """This process's environment without the suite's own servers, so devservices starts some."""
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}


def devservices(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, DEVSERVICES, *args], env=env or without_services(), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def kept_dir():
    # Not under pytest's tmp_path: as root the servers run as the postgres user, who must be
    # able to reach the directory, and pytest's base directory is closed to others.
    parent = tempfile.mkdtemp(prefix="scheduler-devservices-test-", dir="/tmp")
    os.chmod(parent, 0o755)
    yield os.path.join(parent, "dev")
    shutil.rmtree(parent, ignore_errors=True)


def test_kept_data_survives_a_run_and_reset_deletes_it(kept_dir):
    first = devservices("--keep", kept_dir, "--", sys.executable, "-c", COUNT_RUNS)
    assert first.returncode == 0, first.stderr
    runs, redis_runs, data = first.stdout.split()
    assert (runs, redis_runs, data) == ("1", "1", os.path.join(kept_dir, "postgres"))
    assert "creating a PostgreSQL cluster" in first.stderr and "data kept" in first.stderr

    second = devservices("--keep", kept_dir, "--", sys.executable, "-c", COUNT_RUNS)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split()[:2] == ["2", "2"] and "creating" not in second.stderr
    assert os.path.exists(os.path.join(kept_dir, "redis", "dump.rdb"))

    reset = devservices("--reset", kept_dir)
    assert reset.returncode == 0 and not os.path.exists(kept_dir), reset.stderr
    fresh = devservices("--keep", kept_dir, "--", sys.executable, "-c", COUNT_RUNS)
    assert fresh.returncode == 0 and fresh.stdout.split()[:2] == ["1", "1"], fresh.stderr


def test_without_keep_the_servers_are_new_and_thrown_away(kept_dir):
    """`make test`: every run starts from an empty database."""
    for _ in range(2):
        run = devservices("--", sys.executable, "-c", COUNT_RUNS)
        assert run.returncode == 0, run.stderr
        runs, redis_runs, data = run.stdout.split()
        assert (runs, redis_runs) == ("1", "1") and data.startswith("/tmp/scheduler-pg-")
        assert not os.path.exists(data) and "stopped and removed" in run.stderr


def test_one_run_at_a_time_uses_the_kept_data(kept_dir):
    holder = subprocess.Popen([sys.executable, DEVSERVICES, "--keep", kept_dir, "--", sys.executable, "-c",
                               "print('up', flush=True); import time; time.sleep(120)"],
                              env=without_services(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "up\n"
        second = devservices("--keep", kept_dir, "--", "true")
        assert second.returncode == 1 and f"in use by another run (process {holder.pid}" in second.stderr
        reset = devservices("--reset", kept_dir)
        assert reset.returncode == 1 and "in use" in reset.stderr
        assert os.path.exists(os.path.join(kept_dir, "postgres", "PG_VERSION"))
    finally:
        holder.send_signal(signal.SIGTERM)  # passed on to the command; the servers are stopped
        holder.wait(60)
    assert holder.returncode == 128 + signal.SIGTERM, holder.stderr.read()
    assert devservices("--keep", kept_dir, "--", sys.executable, "-c", COUNT_RUNS).stdout.split()[:2] == ["1", "1"]


def test_nothing_is_started_or_locked_when_both_urls_are_set(kept_dir):
    env = {**without_services(), "DATABASE_URL": "postgresql://nowhere/x", "REDIS_URL": "redis://nowhere:1/0"}
    run = devservices("--keep", kept_dir, "--", "sh", "-c", 'echo "$DATABASE_URL $REDIS_URL"', env=env)
    assert run.returncode == 0 and run.stdout == "postgresql://nowhere/x redis://nowhere:1/0\n"
    assert "private" not in run.stderr and not os.path.exists(kept_dir)


@pytest.mark.parametrize("command", [["sh", "-c", "exit 130"], ["sh", "-c", "kill -INT $$"]])
def test_a_command_ended_by_ctrl_c_is_a_success_only_when_asked(command):
    env = {**without_services(), "DATABASE_URL": "postgresql://nowhere/x", "REDIS_URL": "redis://nowhere:1/0"}
    assert devservices("--ctrl-c-ok", "--", *command, env=env).returncode == 0
    assert devservices("--", *command, env=env).returncode == 130


def test_ctrl_c_on_a_terminal_ends_make_with_status_0_and_no_error_line(tmp_path):
    """The recipe of `make run`, on a terminal: Ctrl-C reaches the command, not make."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    (tmp_path / "Makefile").write_text(
        "run:\n"
        f"\texec env {sys.executable} {DEVSERVICES} --ctrl-c-ok -- sh -c "
        "'trap \"echo STOPPING_$$((1+1)); exit 130\" INT; echo READY_$$((1+1)); while :; do sleep 0.1; done'\n")
    env = {**without_services(), "DATABASE_URL": "postgresql://nowhere/x", "REDIS_URL": "redis://nowhere:1/0"}
    pid, terminal = pty.fork()
    if pid == 0:
        os.chdir(tmp_path)
        os.execvpe("make", ["make", "--no-print-directory", "run"], env)
    output = b""
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        if not sent and b"READY_2" in output:  # the output, not the command line make echoes
            os.write(terminal, b"\x03")  # what Ctrl-C types
            sent = True
        readable, _, _ = select.select([terminal], [], [], 0.2)
        if readable:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the terminal closed: everything on it has exited
                break
            if not chunk:
                break
            output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    text = output.decode(errors="replace")
    assert sent and "STOPPING_2" in text, text
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Error" not in text and "Interrupt" not in text, text


def test_make_run_gives_the_worker_the_web_s_address_for_links():
    """honcho gives each process its own PORT: the worker, deriving PUBLIC_BASE_URL from its
    own, mailed manage links to a port nothing listened on."""
    dry_run = subprocess.run(["make", "-n", "-o", ".venv/.installed", "run", "PORT=8124"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, env=without_services())
    assert 'PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:8124}"' in dry_run.stdout
