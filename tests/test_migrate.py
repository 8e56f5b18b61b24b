import contextlib
import difflib
import io
import shutil
import subprocess
import tarfile
import threading
import uuid
from pathlib import Path

import psycopg2
import pytest

from conftest import with_database
from migrate import SCHEMA_COMMAND, SCRATCH_SCHEMA, SQL_DIR, fresh_schema, migrate, render_schema


@contextlib.contextmanager
def new_database(server_dsn):
    """An empty database on the server of `server_dsn`, dropped afterwards."""
    name = f"scheduler_migrate_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server_dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield with_database(server_dsn, name)
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture
def blank_database(database_url):
    with new_database(database_url) as url:
        yield url


def test_a_second_run_changes_nothing(database_url, db):
    with db.cursor() as cur:
        cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('K', 'k@example.com', 'x')")
    assert migrate(database_url) == []
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users")
        assert cur.fetchone()[0] == 1


def test_concurrent_runs_on_a_new_database(blank_database):
    errors = []

    def run():
        try:
            migrate(blank_database)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []


def test_migrations_apply_in_order_once(blank_database, tmp_path):
    shutil.copy(SQL_DIR / "init.sql", tmp_path / "init.sql")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "002_second.sql").write_text("ALTER TABLE probe ADD COLUMN b int;")
    (tmp_path / "migrations" / "001_first.sql").write_text("CREATE TABLE probe (a int);")
    (tmp_path / "migrations" / "notes.txt").write_text("not a migration")
    assert migrate(blank_database, tmp_path) == ["001_first.sql", "002_second.sql"]
    assert migrate(blank_database, tmp_path) == []


def test_a_failing_migration_leaves_nothing_behind(blank_database, tmp_path):
    shutil.copy(SQL_DIR / "init.sql", tmp_path / "init.sql")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_ok.sql").write_text("CREATE TABLE probe (a int);")
    (tmp_path / "migrations" / "002_broken.sql").write_text("ALTER TABLE nowhere ADD COLUMN b int;")
    with pytest.raises(psycopg2.Error):
        migrate(blank_database, tmp_path)
    conn = psycopg2.connect(blank_database)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('probe'), to_regclass('users')")
        assert cur.fetchone() == (None, None)
    conn.close()


# sql/functions.sql: applied on every run, so an edit reaches databases migrated before it.

def functions(dsn):
    """{signature: (oid, definition)} of the database's own functions."""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("""
            SELECT p.oid::regprocedure::text, p.oid, pg_get_functiondef(p.oid) FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                        AND d.deptype = 'e')""")
        found = {signature: (oid, definition) for signature, oid, definition in cur.fetchall()}
    conn.close()
    return found


def query(dsn, statement, params=None):
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def edited_copy(tmp_path, *replacements):
    """A copy of sql/ whose functions.sql has each (old, new) replaced; each old text must occur once."""
    copy = tmp_path / "sql"
    shutil.copytree(SQL_DIR, copy)
    text = (copy / "functions.sql").read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (copy / "functions.sql").write_text(text)
    return copy


@pytest.fixture
def migrated_database(blank_database):
    migrate(blank_database)
    return blank_database


def test_the_migrations_define_no_functions(blank_database, tmp_path):
    """Only functions.sql does (001's is the trigger's placeholder, which functions.sql replaces)."""
    shutil.copytree(SQL_DIR / "migrations", tmp_path / "migrations")
    shutil.copy(SQL_DIR / "init.sql", tmp_path / "init.sql")
    migrate(blank_database, tmp_path)
    assert set(functions(blank_database)) == {"booking_attendees_follow_booking()"}
    [(source,)] = query(blank_database, "SELECT prosrc FROM pg_proc WHERE proname = 'booking_attendees_follow_booking'")
    assert source.split() == ["BEGIN", "RETURN", "NULL;", "END"]
    migrate(blank_database)
    assert set(functions(blank_database)) == {
        "booking_attendees_follow_booking()", "lock_people(bigint[])", "wait_for_person(bigint)",
        "webhook_subscribers(text,bigint[])", "booking_seats(bigint,integer,integer)", "api_key_for_request(bytea)",
        "add_notifications(json)", "add_emails(json)", "add_calendar_writes(bigint[],json)",
        "schedule_hours(bigint,bigint)", "event_type_offer(text,text,bigint)", "team_offer(text,text,bigint)", "unavailable(bigint[],timestamp with time zone,timestamp with time zone)",
        "blocked_time(bigint[],timestamp with time zone,timestamp with time zone,bigint)",
        "blocked_spans(bigint[],timestamp with time zone[],timestamp with time zone[],bigint)",
        "insert_booking(bigint,bigint[],text,timestamp with time zone,timestamp with time zone,bigint,text,integer,"
        "integer,text,text,text,text,text,text,bigint,integer,text,timestamp with time zone,integer,text)"}


def test_an_edited_function_body_reaches_a_migrated_database(migrated_database, tmp_path):
    before = functions(migrated_database)
    copy = edited_copy(tmp_path, ("    person bigint;\nBEGIN\n", "    person bigint;\nBEGIN\n    -- edited\n"))
    assert migrate(migrated_database, copy) == []
    [(source,)] = query(migrated_database, "SELECT prosrc FROM pg_proc WHERE proname = 'lock_people'")
    assert "-- edited" in source
    after = functions(migrated_database)
    # Replaced in place: same oid, so sessions running it as the change commits never miss it.
    assert after["lock_people(bigint[])"][0] == before["lock_people(bigint[])"][0]
    assert {k: v for k, v in after.items() if k != "lock_people(bigint[])"} == \
        {k: v for k, v in before.items() if k != "lock_people(bigint[])"}


def test_a_session_in_use_runs_the_new_body_without_holding_up_the_run(migrated_database, tmp_path):
    """Replacing takes no lock that a session running the function holds, and a session that
    has the function compiled (and its statements planned) runs the new one from its next
    transaction on, without reconnecting."""
    session = psycopg2.connect(migrated_database)
    subscribers = "SELECT webhook_subscribers('booking.created', '{1}')"
    with session.cursor() as cur:
        cur.execute(subscribers)
        assert cur.fetchone() == ([],)
    copy = edited_copy(tmp_path, ("    RETURN ARRAY(\n        SELECT e.id", "    RETURN ARRAY[42::bigint] || ARRAY(\n        SELECT e.id"))
    # The session's transaction is still open; a lock wait would fail the run, not hang the test.
    migrate(psycopg2.extensions.make_dsn(migrated_database, options="-c lock_timeout=10s"), copy)
    session.commit()
    with session.cursor() as cur:
        cur.execute(subscribers)
        assert cur.fetchone() == ([42],)
    session.close()


def test_a_second_run_leaves_the_functions_as_they_were(migrated_database):
    before, schema = functions(migrated_database), render_schema(migrated_database)
    assert migrate(migrated_database) == []
    assert functions(migrated_database) == before and render_schema(migrated_database) == schema


def test_a_function_whose_returns_table_changed_is_replaced(migrated_database, tmp_path):
    signature = next(s for s in functions(migrated_database) if s.startswith("insert_booking("))
    old_oid = functions(migrated_database)[signature][0]
    copy = edited_copy(tmp_path, ("calendar_uid text, guest_token_salt text, recipients json\n)",
                                  "calendar_uid text, guest_token_salt text, recipients json, probe integer\n)"),
                       ("FROM attendees JOIN users u ON u.id = attendees.user_id)\n", "FROM attendees JOIN users u ON u.id = attendees.user_id),\n           42\n"))
    assert migrate(migrated_database, copy) == []
    after = functions(migrated_database)
    assert [s for s in after if s.startswith("insert_booking(")] == [signature] and after[signature][0] != old_oid
    conn = psycopg2.connect(migrated_database)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('P', 'p@example.com', 'x') RETURNING id")
        [owner] = cur.fetchone()
        cur.execute("SELECT title, probe FROM insert_booking(%s, %s, 'Probe', now(), now() + interval '1 hour',"
                    " NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'confirmed', NULL, NULL)",
                    (owner, [owner]))
        assert cur.fetchone() == ("Probe", 42)
    conn.close()


def test_functions_gone_from_the_file_go_from_the_database(migrated_database, tmp_path):
    """Removed, or re-declared with other argument types (which CREATE OR REPLACE would add
    beside the old one, not replace)."""
    text = (SQL_DIR / "functions.sql").read_text()
    start = text.index("CREATE OR REPLACE FUNCTION add_notifications")
    end = text.index("$$;", start) + 3
    copy = edited_copy(tmp_path, (text[start:end], ""),
                       ("webhook_subscribers(p_type text, p_people bigint[])", "webhook_subscribers(p_type text, p_people integer[])"))
    migrate(migrated_database, copy)
    names = set(functions(migrated_database))
    assert "add_notifications(json)" not in names and "webhook_subscribers(text,bigint[])" not in names
    assert "webhook_subscribers(text,integer[])" in names


def test_a_function_something_depends_on_is_not_dropped(migrated_database, tmp_path):
    """The trigger's function can't be dropped from under the trigger: the run fails and changes nothing."""
    before = functions(migrated_database)
    text = (SQL_DIR / "functions.sql").read_text()
    start = text.index("CREATE OR REPLACE FUNCTION booking_attendees_follow_booking")
    copy = edited_copy(tmp_path, (text[start:text.index("$$;", start) + 3], ""))
    (copy / "migrations" / "999_probe.sql").write_text("CREATE TABLE probe (a int);")
    with pytest.raises(psycopg2.errors.DependentObjectsStillExist):
        migrate(migrated_database, copy)
    assert functions(migrated_database) == before
    assert query(migrated_database, "SELECT to_regclass('probe'), to_regnamespace(%s)", (SCRATCH_SCHEMA,)) == [(None, None)]


def test_broken_functions_undo_the_run_s_migrations(migrated_database, tmp_path):
    copy = edited_copy(tmp_path, ("PERFORM pg_advisory_xact_lock(p_person);", "PERFORM pg_advisory_xact_lock(p_person)"))
    (copy / "migrations" / "999_probe.sql").write_text("CREATE TABLE probe (a int);")
    with pytest.raises(psycopg2.errors.SyntaxError):
        migrate(migrated_database, copy)
    assert query(migrated_database, "SELECT to_regclass('probe'), to_regnamespace(%s)", (SCRATCH_SCHEMA,)) == [(None, None)]
    assert query(migrated_database, "SELECT count(*) FROM schema_migrations WHERE name = '999_probe.sql'") == [(0,)]


def test_a_schema_qualified_function_is_refused(migrated_database, tmp_path):
    copy = edited_copy(tmp_path, ("FUNCTION add_emails(", "FUNCTION public.add_emails("))
    with pytest.raises(RuntimeError, match="unqualified"):
        migrate(migrated_database, copy)


def test_a_function_someone_else_put_in_the_schema_is_left_alone(migrated_database):
    """A DBA's helper or PgBouncer's auth_query function is not functions.sql's to drop."""
    query(migrated_database, "CREATE FUNCTION ops_helper() RETURNS int LANGUAGE sql AS 'SELECT 1' ; SELECT 1")
    assert migrate(migrated_database) == []
    assert query(migrated_database, "SELECT ops_helper()") == [(1,)]


def git_sql_dir(commit, into):
    """sql/ as it was at `commit`, with today's 005 (a Python migration importing today's package)."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", commit, "sql"], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"no git history here ({archive.stderr.decode().strip()})")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    shutil.copy(SQL_DIR / "migrations" / "005_email_identity.py", into / "sql" / "migrations")
    return into / "sql"


# f71bf69: 010 as first deployed (without add_notifications and add_emails, which were added to
# it later and so never reached such a database); c9a8a93: the last layout with functions in 010.
@pytest.mark.parametrize("commit", ["f71bf69", "c9a8a93"])
def test_a_database_migrated_with_functions_in_migrations_ends_up_as_a_new_one(blank_database, tmp_path, commit):
    then = git_sql_dir(commit, tmp_path)
    migrate(blank_database, then)
    assert "010_planned_once.sql" in {name for (name,) in query(blank_database, "SELECT name FROM schema_migrations")}
    # Only the migrations written since are applied.
    assert migrate(blank_database) == sorted(migration_names(SQL_DIR) - migration_names(then))
    fresh = fresh_functions_and_schema(blank_database)
    assert ({s: d for s, (_, d) in functions(blank_database).items()}, render_schema(blank_database)) == fresh


def migration_names(sql_dir):
    return {path.name for path in (Path(sql_dir) / "migrations").glob("[0-9][0-9][0-9]_*") if path.suffix in (".sql", ".py")}


def fresh_functions_and_schema(server_dsn):
    with new_database(server_dsn) as url:
        migrate(url)
        return {s: d for s, (_, d) in functions(url).items()}, render_schema(url)


def test_schema_sql_is_what_the_migrations_make(database_url):
    expected = fresh_schema(database_url)
    written = (SQL_DIR / "schema.sql").read_text()
    if written != expected:
        diff = "".join(difflib.unified_diff(written.splitlines(True), expected.splitlines(True),
                                            "sql/schema.sql", "a freshly migrated database"))
        pytest.fail(f"sql/schema.sql is not the schema the migrations make; regenerate it with `{SCHEMA_COMMAND}` "
                    f"and commit it:\n{diff}", pytrace=False)
