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
