"""Applies sql/init.sql, then each sql/migrations/NNN_*.sql (or NNN_*.py, for the rare change
SQL can't express: its `apply(cur)` runs) not yet recorded, in order, then sql/functions.sql,
every run: migrations change tables; the database's functions are whatever functions.sql says
now (see `apply_functions`).

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
# Where apply_functions runs functions.sql first, to see what it defines; never outlives the run.
SCRATCH_SCHEMA = "migrate_functions_scratch"

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
            apply_functions(cur, sql_dir / "functions.sql")
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


# The functions of one schema that are the database's own (not an extension's): a signature
# (name and argument types) each, with what CREATE OR REPLACE can't change in place: argument
# names and defaults, the result (RETURNS TABLE's columns included) and the kind.
FUNCTIONS = """
    SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           p.proname, pg_get_function_identity_arguments(p.oid),
           p.prokind, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = %(schema)s
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                AND d.deptype = 'e')
"""
DROP_KEYWORD = {"f": "FUNCTION", "w": "FUNCTION", "p": "PROCEDURE", "a": "AGGREGATE"}


def functions_of(cur, schema):
    """{(name, identity arguments): (qualified signature, kind, arguments, result)}"""
    cur.execute(FUNCTIONS, {"schema": schema})
    return {(name, identity): (signature, kind, arguments, result)
            for signature, name, identity, kind, arguments, result in cur.fetchall()}


def apply_functions(cur, path):
    """Makes the functions of the current schema exactly those `path` defines.

    CREATE OR REPLACE alone would leave behind a function the file no longer defines (or an
    old overload, when argument types change), and can't change a function's result or
    argument names. So the file runs first in a scratch schema; the real schema's functions
    that it doesn't define, or defines with another shape, are dropped (RESTRICT: if a trigger
    or anything else depends on one, the run fails and changes nothing); then the file runs
    in the real schema, replacing the rest in place. In-place keeps a function's oid, so the
    app's sessions, which may be running it as this commits, never look up a dropped one; each
    of them recompiles a replaced PL/pgSQL function at its next call (its plans follow too).

    A directory without functions.sql (tests' cut-down copies of old layouts) leaves the
    functions alone."""
    if not path.exists():
        return
    text = path.read_text()
    cur.execute("SELECT current_schema(), current_setting('search_path')")
    schema, search_path = cur.fetchone()
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCRATCH_SCHEMA)))
    cur.execute("SELECT set_config('search_path', quote_ident(%s) || ', ' || %s, true)", (SCRATCH_SCHEMA, search_path))
    cur.execute(text)
    cur.execute("SELECT set_config('search_path', %s, true)", (search_path,))
    wanted = functions_of(cur, SCRATCH_SCHEMA)
    for key, (signature, kind, *shape) in sorted(functions_of(cur, schema).items()):
        if key not in wanted or wanted[key][1:] != (kind, *shape):
            log.info("dropping %s: %s", signature, "changed" if key in wanted else "not in %s" % path.name)
            cur.execute(f"DROP {DROP_KEYWORD[kind]} {signature}")
    cur.execute(text)
    now = functions_of(cur, schema)
    if {key: value[1:] for key, value in now.items()} != {key: value[1:] for key, value in wanted.items()}:
        raise RuntimeError(f"{path} defines other functions in {schema} than in a scratch schema: it must only create "
                           "functions, with unqualified names")
    cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCRATCH_SCHEMA)))


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
