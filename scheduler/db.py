"""The PostgreSQL connection pool and the one way to run SQL: a transaction."""

import os
import queue
import threading
from contextlib import contextmanager

import orjson
import psycopg2
import psycopg2.extensions
import psycopg2.extras
from flask import current_app

psycopg2.extras.register_default_json(loads=orjson.loads, globally=True)
psycopg2.extras.register_default_jsonb(loads=orjson.loads, globally=True)


class DictCursor(psycopg2.extensions.cursor):
    """Rows as plain dicts (several times cheaper to build than psycopg2's RealDictRow)."""

    def fetchone(self):
        row = super().fetchone()
        return None if row is None else dict(zip([c.name for c in self.description], row))

    def fetchall(self):
        names = [c.name for c in self.description]
        return [dict(zip(names, row)) for row in super().fetchall()]


class PoolExhausted(Exception):
    """No connection became free in time."""


class Database:
    """Up to `size` connections per process, opened as needed and kept for reuse (psycopg2's own
    pools close every connection above `minconn` when it is returned). Fork-safe: a forked
    child opens its own. `transaction()` lends a dict cursor for one transaction."""

    def __init__(self, dsn, size=10, wait_seconds=10.0, statement_timeout_ms=15000):
        self.dsn = dsn
        self.size = size
        self.wait_seconds = wait_seconds
        # random_page_cost 1.1: the working set is in memory (or on SSD), so index lookups are
        # cheap; at the default of 4 the planner seq-scans bookings to build one page of them.
        self.options = f"-c timezone=UTC -c statement_timeout={statement_timeout_ms} -c random_page_cost=1.1"
        self._lock = threading.Lock()
        self._reset()

    def _reset(self):
        self._pid = os.getpid()
        self._idle = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self.size)

    def _connect(self):
        return psycopg2.connect(self.dsn, options=self.options, connect_timeout=5, application_name="scheduler")

    @contextmanager
    def _connection(self):
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._reset()
        slots = self._slots
        if not slots.acquire(timeout=self.wait_seconds):
            raise PoolExhausted("no database connection became free in time")
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            yield conn
        finally:
            if conn is not None and not conn.closed:
                self._idle.put(conn)
            slots.release()

    @contextmanager
    def transaction(self):
        with self._connection() as conn:
            try:
                with conn.cursor(cursor_factory=DictCursor) as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise

    @contextmanager
    def single_statement(self):
        """A cursor whose statement is its own transaction: for work that is exactly one SQL
        statement (most reads), saving the BEGIN and COMMIT round trips."""
        with self._connection() as conn:
            conn.autocommit = True
            try:
                with conn.cursor(cursor_factory=DictCursor) as cur:
                    yield cur
            finally:
                if not conn.closed:
                    conn.autocommit = False

    def close(self):
        if self._pid != os.getpid():
            return
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def get_db():
    return current_app.extensions["db"]


def transaction():
    return get_db().transaction()


def single_statement():
    return get_db().single_statement()
