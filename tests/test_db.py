import threading

from scheduler.db import Database


def backend_pid(db):
    with db.transaction() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        return cur.fetchone()["pid"]


def test_connections_are_reused_between_transactions(database_url):
    db = Database(database_url, size=2)
    try:
        assert backend_pid(db) == backend_pid(db)
    finally:
        db.close()


def test_callers_wait_for_a_free_connection_instead_of_failing(database_url):
    db = Database(database_url, size=2)
    pids, errors = [], []

    def work():
        try:
            with db.transaction() as cur:
                cur.execute("SELECT pg_sleep(0.05), pg_backend_pid() AS pid")
                pids.append(cur.fetchone()["pid"])
        except Exception as exc:  # collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    db.close()
    assert errors == [] and len(pids) == 8 and len(set(pids)) <= 2


def test_a_rolled_back_transaction_leaves_nothing(database_url, db):
    pool = Database(database_url, size=1)
    try:
        with pool.transaction() as cur:
            cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('R', 'r@example.com', 'x')")
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users")
        assert cur.fetchone()[0] == 0
    assert backend_pid(pool) > 0
    pool.close()


def test_a_transaction_is_seen_whole_or_not_at_all(database_url, db):
    pool = Database(database_url, size=1)
    try:
        with pool.transaction() as cur:
            cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('A', 'a@example.com', 'x')")
            cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('B', 'b@example.com', 'x')")
            with db.cursor() as other:
                other.execute("SELECT count(*) FROM users")
                assert other.fetchone()[0] == 0
            cur.execute("SELECT count(*) AS n, now() = statement_timestamp() AS fresh FROM users")
            assert cur.fetchone() == {"n": 2, "fresh": False}
        with db.cursor() as other:
            other.execute("SELECT count(*) FROM users")
            assert other.fetchone()[0] == 2
    finally:
        pool.close()


def test_a_transaction_whose_first_statement_fails_leaves_a_usable_connection(database_url, db):
    pool = Database(database_url, size=1)
    try:
        try:
            with pool.transaction() as cur:
                cur.execute("INSERT INTO users (name, email, password_hash) VALUES (NULL, 'n@example.com', 'x')")
        except Exception as exc:  # the NOT NULL violation
            assert "null value" in str(exc)
        with pool.transaction() as cur:
            cur.execute("SELECT count(*) AS n FROM users")
            assert cur.fetchone()["n"] == 0
    finally:
        pool.close()


def test_a_transaction_sends_its_begin_with_its_first_statement(database_url):
    """No round trip of its own for BEGIN: the transaction starts in the first statement's
    message (a separate BEGIN would have started it a round trip earlier)."""
    pool = Database(database_url, size=1)
    try:
        with pool.transaction() as cur:
            cur.execute("SELECT now() = statement_timestamp() AS one_message")
            assert cur.fetchone()["one_message"] is True
            cur.execute("SELECT now() = statement_timestamp() AS one_message")
            assert cur.fetchone()["one_message"] is False
    finally:
        pool.close()
