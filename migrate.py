"""Applies sql/init.sql, then each sql/migrations/NNN_*.sql (or NNN_*.py, for the rare change
SQL can't express: its `apply(cur, settings)` runs) not yet recorded, in order, then sql/functions.sql,
every run: migrations change tables; the database's functions are whatever functions.sql says
now (see `apply_functions`).

Runs in one transaction under an advisory lock, so a second or concurrent run waits and
then finds nothing left to do. Each run also sets the database's session defaults (time zone,
statement timeout, planner costs): the app sends no session settings of its own, so that it
can connect through PgBouncer in transaction mode.

`python migrate.py --schema` rewrites sql/schema.sql, the tables, constraints, indexes and
triggers the above leave, read from a database it migrates from nothing (see `render_schema`).
"""

import argparse
import importlib.util
import logging
import sys
import uuid
from pathlib import Path

import psycopg2
from psycopg2 import sql

from scheduler.config import ConfigError, Settings
from scheduler.repositories.locks import lock_named

SQL_DIR = Path(__file__).resolve().parent / "sql"
# Where apply_functions runs functions.sql first, to see what it defines; never outlives the run.
SCRATCH_SCHEMA = "migrate_functions_scratch"
SCHEMA_COMMAND = "python migrate.py --schema (make schema)"

log = logging.getLogger("scheduler.migrate")


def migrate(dsn, sql_dir=SQL_DIR, statement_timeout=Settings.db_statement_timeout,
            lock_timeout=Settings.db_lock_timeout, settings=None):
    """Returns the names of the migrations applied by this run. The timeouts are in seconds.
    Python migrations get `settings` (the keys one may need), read from the environment if None."""
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
                    run_python(path, cur, settings or Settings.from_env())
                else:
                    cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                applied.append(path.name)
            apply_functions(cur, sql_dir / "functions.sql")
            session_defaults(cur, statement_timeout, lock_timeout)
    finally:
        conn.close()
    return applied


def session_defaults(cur, statement_timeout, lock_timeout):
    """What every new session of this database starts with, PgBouncer's server connections
    included; sessions already open keep what they had. Costs nothing per transaction, unlike a
    SET LOCAL in each. random_page_cost 1.1: the working set is in memory (or on SSD), so index
    lookups are cheap; at the default of 4 the planner seq-scans bookings to build one page.
    scheduler.lock_timeout is ours, read by the wait for a person's lock (sql/functions.sql
    wait_for_person), not PostgreSQL's lock_timeout, which would also fail a long queue."""
    cur.execute("SELECT current_database()")
    database = sql.Identifier(cur.fetchone()[0])
    for name, value in (("timezone", "UTC"), ("statement_timeout", f"{statement_timeout}s"),
                        ("random_page_cost", "1.1"), ("scheduler.lock_timeout", f"{lock_timeout}s")):
        cur.execute(sql.SQL("ALTER DATABASE {} SET {} = %s").format(database, sql.Identifier(*name.split("."))), (value,))


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
# The comment apply_functions gives every function of functions.sql: the ones it manages.
MANAGED = "managed by sql/functions.sql"


def functions_of(cur, schema):
    """{(name, identity arguments): (qualified signature, kind, arguments, result)}"""
    cur.execute(FUNCTIONS, {"schema": schema})
    return {(name, identity): (signature, kind, arguments, result)
            for signature, name, identity, kind, arguments, result in cur.fetchall()}


def apply_functions(cur, path):
    """Makes the functions `path` defines exactly those of the current schema that it manages.

    CREATE OR REPLACE alone would leave behind a function the file no longer defines (or an
    old overload, when argument types change), and can't change a function's result or
    argument names. So the file runs first in a scratch schema; the real schema's functions
    that it manages but doesn't define, or defines with another shape, are dropped (RESTRICT:
    if a trigger or anything else depends on one, the run fails and changes nothing); then the
    file runs in the real schema, replacing the rest in place. In-place keeps a function's oid,
    so the app's sessions, which may be running it as this commits, never look up a dropped
    one; each of them recompiles a replaced PL/pgSQL function at its next call.

    The file manages the functions it has created (each carries MANAGED as its comment) and
    any of the same name as one it defines; a function someone else put in the schema (a
    DBA's helper, PgBouncer's auth_query function) is left alone.

    A directory without functions.sql (tests' cut-down copies of old layouts) leaves the
    functions alone."""
    if not path.exists():
        return
    text = path.read_text()
    cur.execute("SELECT current_schema(), current_setting('search_path')")
    schema, search_path = cur.fetchone()
    present = functions_of(cur, schema)
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCRATCH_SCHEMA)))
    cur.execute("SELECT set_config('search_path', quote_ident(%s) || ', ' || %s, true)", (SCRATCH_SCHEMA, search_path))
    cur.execute(text)
    cur.execute("SELECT set_config('search_path', %s, true)", (search_path,))
    if functions_of(cur, schema) != present:
        raise RuntimeError(f"{path} created or changed functions in {schema} from a scratch schema: it must only "
                           "create functions, with unqualified names")
    wanted = functions_of(cur, SCRATCH_SCHEMA)
    managed = {name for name, _ in wanted} | managed_names(cur, schema)
    for key, (signature, kind, *shape) in sorted(functions_of(cur, schema).items()):
        if key[0] in managed and (key not in wanted or wanted[key][1:] != (kind, *shape)):
            log.info("dropping %s: %s", signature, "changed" if key in wanted else "not in %s" % path.name)
            cur.execute(f"DROP {DROP_KEYWORD[kind]} {signature}")
    cur.execute(text)
    now = {key: value for key, value in functions_of(cur, schema).items() if key[0] in managed}
    if {key: value[1:] for key, value in now.items()} != {key: value[1:] for key, value in wanted.items()}:
        raise RuntimeError(f"{path} defines other functions in {schema} than in a scratch schema: it must only create "
                           "functions, with unqualified names")
    for signature, kind, *_ in now.values():
        cur.execute(sql.SQL("COMMENT ON {} {} IS {}").format(
            sql.SQL(DROP_KEYWORD[kind]), sql.SQL(signature), sql.Literal(MANAGED)))
    cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCRATCH_SCHEMA)))


def managed_names(cur, schema):
    """Names of the schema's functions that functions.sql created (see apply_functions)."""
    cur.execute("""
        SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s AND obj_description(p.oid, 'pg_proc') = %(managed)s""",
                {"schema": schema, "managed": MANAGED})
    return {name for (name,) in cur.fetchall()}


def render_schema(dsn):
    """The schema of the database at `dsn` as SQL text: extensions, then each table with its
    columns (in their order), constraints, indexes and triggers, in name order; functions are
    left to sql/functions.sql. Read from the catalogs with the server's own pg_get_*def()
    functions rather than by pg_dump, whose output depends on the client's version (its
    header, SET lines, recent releases' random restrict key) and needs one at least as
    new as the server; this depends on the server only, and is the same for every database
    that ran the same migrations."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_schema()")
            schema = cur.fetchone()[0]
            # Names in the schema print unqualified, as they were written.
            cur.execute("SELECT set_config('search_path', quote_ident(%s), true)", (schema,))
            return "".join(schema_parts(cur, schema))
    finally:
        conn.close()


def schema_parts(cur, schema):
    yield ("-- The tables, constraints, indexes and triggers that sql/init.sql and sql/migrations/ leave,\n"
           "-- to read (databases are built by migrate.py). The database functions are in sql/functions.sql.\n"
           f"-- Generated from a freshly migrated database by `{SCHEMA_COMMAND}`: do not edit.\n")
    cur.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname")
    for (name,) in cur.fetchall():
        yield f"\nCREATE EXTENSION {name};\n"
    cur.execute("SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname", (schema,))
    for table, name in cur.fetchall():
        cur.execute("""
            SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attcollation <> t.typcollation
                           THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
                   || CASE a.attidentity WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY'
                                         WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' ELSE '' END
                   || CASE WHEN a.attgenerated = 's'
                           THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED' ELSE '' END
                   || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                   || CASE WHEN d.adbin IS NOT NULL AND a.attgenerated = ''
                           THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %(table)s AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""", {"table": table})
        lines = [row[0] for row in cur.fetchall()]
        # NOT NULL shows on its column (PostgreSQL 18 also keeps it as a constraint, 'n').
        cur.execute("""
            SELECT 'CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE conrelid = %(table)s AND contype <> 'n'
            ORDER BY contype <> 'p', conname""", {"table": table})
        lines += [row[0] for row in cur.fetchall()]
        yield f"\nCREATE TABLE {sql_identifier(name)} (\n" + ",\n".join("    " + line for line in lines) + "\n);\n"
        cur.execute("""
            SELECT 1, c.relname, pg_get_indexdef(i.indexrelid) || ';'
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %(table)s
              AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
            UNION ALL
            SELECT 2, tgname, pg_get_triggerdef(oid) || ';' FROM pg_trigger WHERE tgrelid = %(table)s AND NOT tgisinternal
            ORDER BY 1, 2""", {"table": table})
        yield "".join(definition + "\n" for _, _, definition in cur.fetchall())
    cur.execute("""
        SELECT c.relkind, c.relname, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('v', 'm') ORDER BY c.relname""", (schema,))
    for kind, name, definition in cur.fetchall():
        materialized = "MATERIALIZED " if kind == "m" else ""
        yield f"\nCREATE {materialized}VIEW {sql_identifier(name)} AS\n{definition.rstrip(';')};\n"


def sql_identifier(name):
    return '"' + name.replace('"', '""') + '"' if not name.isidentifier() or name != name.lower() else name


def fresh_schema(server_dsn, sql_dir=SQL_DIR):
    """render_schema of a database migrated from nothing (from template0: nothing a server's
    template1 holds), created for the purpose on the server of `server_dsn` and dropped after."""
    name = f"scheduler_schema_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server_dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        dsn = psycopg2.extensions.make_dsn(server_dsn, dbname=name)
        try:
            migrate(dsn, sql_dir)
            return render_schema(dsn)
        finally:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        admin.close()


def run_python(path, cur, settings):
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.apply(cur, settings)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Migrates the database at DATABASE_URL.")
    parser.add_argument("--schema", action="store_true",
                        help="instead, rewrite sql/schema.sql from a new database migrated on DATABASE_URL's server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        log.error("configuration: %s", exc)
        return 2
    if args.schema:
        (SQL_DIR / "schema.sql").write_text(fresh_schema(settings.database_url))
        log.info("wrote %s", SQL_DIR / "schema.sql")
        return 0
    applied = migrate(settings.database_url, statement_timeout=settings.db_statement_timeout,
                      lock_timeout=settings.db_lock_timeout, settings=settings)
    log.info("schema is up to date (%s)", "applied " + ", ".join(applied) if applied else "no pending migrations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
