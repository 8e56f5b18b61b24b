"""The PostgreSQL connection pool, the one way to run SQL (a transaction), and `retrying`,
which runs a unit of work again when a transaction of it failed for a reason that passes."""

import contextvars
import functools
import logging
import os
import queue
import random
import select
import threading
import time
from contextlib import contextmanager

import orjson
import psycopg2
import psycopg2.extensions
import psycopg2.extras

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


class TransactionCursor(DictCursor):
    """A transaction's cursor (`Database.transaction`): its first statement carries the BEGIN.
    Only here, so that single statements, most requests' only one, don't pay for the check."""

    begin_pending = True

    def execute(self, query, vars=None):
        if self.begin_pending:
            self.begin_pending = False
            query = (b"BEGIN; " if isinstance(query, bytes) else "BEGIN; ") + query
        return super().execute(query, vars)


log = logging.getLogger("scheduler.db")

ATTEMPTS = 3  # runs of a unit of work in all, the first included
BACKOFF_SECONDS = 0.02  # the pause before run n+1 is uniform in [0, BACKOFF_SECONDS * 2**n)


class PoolExhausted(Exception):
    """No connection became free in time."""


class TransientFailure(psycopg2.OperationalError):
    """A transaction ended before its commit for a reason that may pass: PostgreSQL rolled it
    back (deadlock, serialization failure: `conflict` is true) or its connection died. Nothing
    of it was committed, so running it again is safe; `retrying` does."""

    def __init__(self, cause):
        super().__init__((str(cause).strip().splitlines() or [type(cause).__name__])[0])
        self.conflict = isinstance(cause, psycopg2.extensions.TransactionRollbackError)


def run_again(reason):
    """The failure that makes `retrying` run the unit again: what it found means its locks must
    be taken afresh, in the one order (a conflict, should the runs be used up)."""
    return TransientFailure(psycopg2.extensions.TransactionRollbackError(reason))


class Run:
    """What one run of a `retrying` unit of work has done so far."""

    def __init__(self):
        self.committed = False


_run = contextvars.ContextVar("scheduler_db_run", default=None)


def committed():
    run = _run.get()
    if run is not None:
        run.committed = True


def retrying(work):
    """Runs `work` (a handler, a job) again from its start when one of its transactions fails
    with a TransientFailure, up to ATTEMPTS runs in all with a short jittered pause between,
    but only while nothing has been committed in the current run, so that no write happens
    twice. (A `with` block cannot re-run its own body, hence a decorator around the whole
    unit.) When the runs are used up, or something was committed first, the failure is
    raised: the error handler answers 409 for a conflict and 503 for a dead connection."""

    @functools.wraps(work)
    def run_again_if_transient(*args, **kwargs):
        if _run.get() is not None:  # inside another retrying unit: that one re-runs us
            return work(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            run = Run()
            token = _run.set(run)
            try:
                return work(*args, **kwargs)
            except TransientFailure as exc:
                if run.committed or attempt == ATTEMPTS:
                    raise
                log.info("%s: transient failure (%s), running it again", work.__name__, exc)
            finally:
                _run.reset(token)
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))

    return run_again_if_transient


# Errors that say the server's end of the connection is gone although ours may stay open, as
# behind PgBouncer, which keeps the client's connection and lends it another server connection
# for the next transaction: connection exceptions (class 08) and a server shutting down
# (admin_shutdown from pg_terminate_backend, crash_shutdown) or not yet taking connections.
SERVER_GONE = ("57P01", "57P02", "57P03")


def connection_lost(conn, exc):
    return conn.closed or (exc.pgcode or "").startswith("08") or exc.pgcode in SERVER_GONE


def looks_closed(conn):
    """True if the server has closed this idle connection (restart, failover,
    pg_terminate_backend): it then has its farewell or end-of-file waiting to be read, while a
    live idle connection has nothing. One poll(2), no round trip."""
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class Database:
    """Up to `size` connections per process, opened as needed and kept for reuse (psycopg2's own
    pools close every connection above `minconn` when it is returned). Fork-safe: a forked
    child opens its own. `transaction()` lends a dict cursor for one transaction.

    Transactions nest per thread: inside an open one, `transaction()` is a savepoint of it (an
    error rolls back only what the inner block wrote) and `single_statement()` runs in it, and
    `after_commit` work waits for the outermost commit. That is how an idempotent request records
    its response in the same transaction as its writes (scheduler/idempotency.py)."""

    def __init__(self, dsn, size=10, wait_seconds=10.0):
        self.dsn = dsn
        self.size = size
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._open = threading.local()  # the outermost transaction of this thread: cursor, after-commit work
        self._reset()

    def _reset(self):
        self._pid = os.getpid()
        self._idle = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self.size)

    def _connect(self):
        # No session settings here (no `options`, no SET): a connection may go through PgBouncer
        # in transaction mode, which refuses them and would hand a session's state to other
        # clients. The time zone, statement timeout and planner costs are the database's own
        # defaults, set by migrate.py (see `session_defaults` there).
        # Autocommit is psycopg2's own mode, not a SET: a transaction is a BEGIN the statements
        # send themselves (`transaction`), which spares psycopg2's round trip for it.
        conn = psycopg2.connect(self.dsn, connect_timeout=5, application_name="scheduler")
        conn.autocommit = True
        return conn

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
            conn = self._idle_connection() or self._connect()
            yield conn
        finally:
            if conn is not None and not conn.closed:
                self._idle.put(conn)
            slots.release()

    def _idle_connection(self):
        """A pooled connection that is still open, or None; closed ones are dropped."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return None
            if not looks_closed(conn):
                return conn
            conn.close()

    @contextmanager
    def transaction(self):
        """A dict cursor in one transaction, committed when the block ends. Raises
        TransientFailure if it failed before committing for a reason that may pass; a
        connection lost during the commit itself is not one (it may have committed). Inside
        a transaction already open on this thread: a savepoint of that one, whose errors
        pass through as they are (the outermost transaction decides what is transient)."""
        outer = getattr(self._open, "cursor", None)
        if outer is not None:
            with savepoint(outer):
                yield outer
            return
        with self._connection() as conn:
            self._open.pending = []
            committing = False
            cur = None
            try:
                with conn.cursor(cursor_factory=TransactionCursor) as cur:
                    self._open.cursor = cur
                    yield cur
                committing = True
                end(conn, cur, "COMMIT")
            except psycopg2.Error as exc:
                if connection_lost(conn, exc):
                    conn.close()  # whatever is left of it is not worth lending again
                    if committing:
                        raise
                    raise TransientFailure(exc) from exc
                end(conn, cur, "ROLLBACK")
                if isinstance(exc, psycopg2.extensions.TransactionRollbackError):
                    raise TransientFailure(exc) from exc
                raise
            except BaseException:
                if not conn.closed:
                    end(conn, cur, "ROLLBACK")
                raise
            finally:
                self._open.cursor = None
                pending, self._open.pending = self._open.pending, []
            committed()
        for work in pending:
            work()

    @contextmanager
    def single_statement(self):
        """A cursor whose statement is its own transaction: for work that is exactly one SQL
        statement (most reads), saving the BEGIN and COMMIT. (Behind PgBouncer in transaction
        mode, each such statement is a transaction it may run on any server connection.)"""
        outer = getattr(self._open, "cursor", None)
        if outer is not None:
            with savepoint(outer):
                yield outer
            return
        with self._connection() as conn:
            try:
                with conn.cursor(cursor_factory=DictCursor) as cur:
                    yield cur
            finally:
                committed()  # it may have written: a retrying unit must not run it twice

    def after_commit(self, work, *args):
        """Runs `work(*args)` once this thread's open transaction commits (never, if it rolls
        back); at once when none is open. For enqueueing jobs that read what was written."""
        if getattr(self._open, "cursor", None) is None:
            work(*args)
        else:
            self._open.pending.append(functools.partial(work, *args))

    def close(self):
        if self._pid != os.getpid():
            return
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def end(conn, cur, command):
    """Ends with `command` (COMMIT, ROLLBACK) the transaction `cur` began, if it began one: a
    cursor that sent no statement sent no BEGIN either."""
    if cur is not None and not cur.begin_pending:
        with conn.cursor() as ending:
            ending.execute(command)


@contextmanager
def savepoint(cur):
    cur.execute("SAVEPOINT nested")
    try:
        yield
    except BaseException:
        try:
            cur.execute("ROLLBACK TO SAVEPOINT nested")
        except psycopg2.Error:  # the connection is gone: the outer transaction fails with it
            pass
        raise
    cur.execute("RELEASE SAVEPOINT nested")
