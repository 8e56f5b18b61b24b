"""Applies sql/init.sql, then each sql/migrations/NNN_*.sql (or NNN_*.py, for the rare change
SQL can't express: its `apply(cur)` runs) not yet recorded, in order.

Runs in one transaction under an advisory lock, so a second or concurrent run waits and
then finds nothing left to do. Each run also sets the database's session defaults (time zone,
statement timeout, planner costs): the app sends no session settings of its own, so that it
can connect through PgBouncer in transaction mode.
"""

import importlib.util
import logging
import sys
from pathlib import Path

import psycopg2
from psycopg2 import sql

from scheduler.config import ConfigError, Settings
from scheduler.repositories.locks import lock_named

SQL_DIR = Path(__file__).resolve().parent / "sql"

log = logging.getLogger("scheduler.migrate")


def migrate(dsn, sql_dir=SQL_DIR, statement_timeout=Settings.db_statement_timeout):
    """Returns the names of the migrations applied by this run. `statement_timeout` is in seconds."""
    applied = []
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            lock_named(cur, "migrate")
            cur.execute((sql_dir / "init.sql").read_text())
            cur.execute("SELECT name FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for path in sorted((sql_dir / "migrations").glob("[0-9][0-9][0-9]_*")):
                if path.suffix not in (".sql", ".py") or path.name in done:
                    continue
                if path.suffix == ".py":
                    run_python(path, cur)
                else:
                    cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                applied.append(path.name)
            session_defaults(cur, statement_timeout)
    finally:
        conn.close()
    return applied


def session_defaults(cur, statement_timeout):
    """What every new session of this database starts with, PgBouncer's server connections
    included; sessions already open keep what they had. Costs nothing per transaction, unlike a
    SET LOCAL in each. random_page_cost 1.1: the working set is in memory (or on SSD), so index
    lookups are cheap; at the default of 4 the planner seq-scans bookings to build one page."""
    cur.execute("SELECT current_database()")
    database = sql.Identifier(cur.fetchone()[0])
    for name, value in (("timezone", "UTC"), ("statement_timeout", f"{statement_timeout}s"),
                        ("random_page_cost", "1.1")):
        cur.execute(sql.SQL("ALTER DATABASE {} SET {} = %s").format(database, sql.Identifier(name)), (value,))


def run_python(path, cur):
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.apply(cur)


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        log.error("configuration: %s", exc)
        return 2
    applied = migrate(settings.database_url, statement_timeout=settings.db_statement_timeout)
    log.info("schema is up to date (%s)", "applied " + ", ".join(applied) if applied else "no pending migrations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
