"""The PostgreSQL connection pool and the one way to run SQL: a transaction."""

import os
import threading
from contextlib import contextmanager

import psycopg2
import psycopg2.extras
import psycopg2.pool
from flask import current_app


class PoolExhausted(Exception):
    """No connection became free in time."""


class Database:
    """A lazily opened, fork-safe pool; `transaction()` lends a dict cursor for one transaction."""

    def __init__(self, dsn, size=10, wait_seconds=10.0, statement_timeout_ms=15000):
        self.dsn = dsn
        self.size = size
        self.wait_seconds = wait_seconds
        self.options = f"-c timezone=UTC -c statement_timeout={statement_timeout_ms}"
        self._pool = None
        self._pid = None
        self._lock = threading.Lock()
        # ThreadedConnectionPool raises instead of waiting when empty; the semaphore makes callers wait.
        self._slots = threading.BoundedSemaphore(size)

    def _get_pool(self):
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = psycopg2.pool.ThreadedConnectionPool(
                        0, self.size, self.dsn, options=self.options, connect_timeout=5,
                        application_name="scheduler",
                    )
                    self._pid = os.getpid()
                    self._slots = threading.BoundedSemaphore(self.size)
        return self._pool

    @contextmanager
    def transaction(self):
        pool = self._get_pool()
        slots = self._slots
        if not slots.acquire(timeout=self.wait_seconds):
            raise PoolExhausted("no database connection became free in time")
        try:
            conn = pool.getconn()
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise
            finally:
                pool.putconn(conn, close=bool(conn.closed))
        finally:
            slots.release()

    def close(self):
        if self._pool is not None and self._pid == os.getpid():
            self._pool.closeall()
        self._pool = None


def get_db():
    return current_app.extensions["db"]


def transaction():
    return get_db().transaction()
