"""Applies sql/init.sql, then each sql/migrations/NNN_*.sql (or NNN_*.py, for the rare change
SQL can't express: its `apply(cur)` runs) not yet recorded, in order.

Runs in one transaction under an advisory lock, so a second or concurrent run waits and
then finds nothing left to do.
"""

import importlib.util
import logging
import sys
from pathlib import Path

import psycopg2

from scheduler.config import ConfigError, Settings
from scheduler.repositories.locks import lock_named

SQL_DIR = Path(__file__).resolve().parent / "sql"

log = logging.getLogger("scheduler.migrate")


def migrate(dsn, sql_dir=SQL_DIR):
    """Returns the names of the migrations applied by this run."""
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
    finally:
        conn.close()
    return applied


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
    applied = migrate(settings.database_url)
    log.info("schema is up to date (%s)", "applied " + ", ".join(applied) if applied else "no pending migrations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
