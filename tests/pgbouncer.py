"""A real PgBouncer (Debian's) in transaction pooling mode in front of the test PostgreSQL, as
managed databases are usually run: `pgbouncer_url` is the test database through it.

Its pool is small (POOL_SIZE server connections per database and user), so the transactions of
different clients share server connections, and any session state one of them left behind
would be seen by the others. `make test-pgbouncer` runs the `pgbouncer` marked tests with the
app, the worker and the tests' own connections all going through it (TEST_THROUGH_PGBOUNCER)."""

import os
import shutil
import subprocess
import tempfile
import time

import psycopg2
import psycopg2.extensions
import pytest

from helpers import end
from scripts.devservices import PG_USER, as_server_user

PGBOUNCER = shutil.which("pgbouncer", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
POOL_SIZE = 3
START_SECONDS = 10


class PgBouncer:
    """One pgbouncer process listening on 127.0.0.1:`port`, every database name passed through
    to the server of `server_url`, no authentication of its own (trust, local only)."""

    def __init__(self, server_url, port, pool_size=POOL_SIZE):
        self.server = psycopg2.extensions.parse_dsn(server_url)
        self.port = port
        self.root = tempfile.mkdtemp(prefix="scheduler-pgbouncer-", dir="/tmp")
        self.config = os.path.join(self.root, "pgbouncer.ini")
        self.pool_size = pool_size
        self.process = None

    def url(self, dbname):
        return f"postgresql://{self.server.get('user', PG_USER)}@127.0.0.1:{self.port}/{dbname}"

    def write_config(self):
        target = " ".join(f"{key}={self.server[key]}" for key in ("host", "port", "user", "password")
                          if self.server.get(key))
        user = self.server.get("user", PG_USER)
        with open(os.path.join(self.root, "userlist.txt"), "w") as f:
            f.write(f'"{user}" ""\n')
        with open(self.config, "w") as f:
            f.write(f"""[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.root}/userlist.txt
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = 500
logfile = {self.root}/pgbouncer.log
""")
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            for name in os.listdir(self.root):
                shutil.chown(os.path.join(self.root, name), PG_USER)
            shutil.chown(self.root, PG_USER)

    def start(self):
        self.write_config()
        self.process = subprocess.Popen(as_server_user([PGBOUNCER, self.config]), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                psycopg2.connect(self.url(self.server.get("dbname", "postgres")), connect_timeout=1).close()
                return self
            except psycopg2.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("pgbouncer did not start") from None
                time.sleep(0.1)

    def stop(self):
        end(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pgbouncer(direct_database_url):
    from conftest import free_port
    bouncer = PgBouncer(direct_database_url, free_port()).start()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def pgbouncer_url(pgbouncer, direct_database_url):
    """The test database, through PgBouncer."""
    return pgbouncer.url(psycopg2.extensions.parse_dsn(direct_database_url)["dbname"])
