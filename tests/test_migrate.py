import shutil
import threading
import uuid

import psycopg2
import pytest

from conftest import with_database
from migrate import SQL_DIR, migrate


@pytest.fixture
def blank_database(database_url):
    name = f"scheduler_migrate_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield with_database(database_url, name)
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


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
