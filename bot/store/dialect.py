"""Where SQLite and PostgreSQL differ, in one place: SQLite's connection set-up (WAL, BEGIN
IMMEDIATE), read-only transactions, one writer at a time, and INSERT ... ON CONFLICT (DO
NOTHING, or add one to a counter) for both."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any, cast

from sqlalchemy import Engine, Insert, Table, event, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.store.models import Base


@cache
def _insert_ignoring_conflict(dialect: str, table: Table) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


def insert_ignoring_conflict(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; True when inserted.

    Runs on every inbound message, so the statement is built once per table and executed as
    plain Core on the session's connection (the ORM's bulk-insert path costs more than the
    insert itself)."""
    connection = session.connection()
    statement = _insert_ignoring_conflict(connection.dialect.name, cast(Table, model.__table__))
    # preserve_rowcount: SQLAlchemy 2.1 reports -1 for a PostgreSQL INSERT unless asked.
    result = connection.execute(statement, values, execution_options={"preserve_rowcount": True})
    return result.rowcount == 1


def count_up(session: Session, model: type[Base], key: dict[str, Any], column: str, **on_insert: Any) -> int:
    """Add one to `column` of the row with primary key `key` (inserting it at 1, with the
    `on_insert` values, when absent), in one statement; the new count."""
    table = cast(Table, model.__table__)
    connection = session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values({**key, column: 1, **on_insert})
        .on_conflict_do_update(
            index_elements=list(key), set_={column: table.c[column] + literal_column("1")}
        )
        .returning(table.c[column])
    )
    return int(connection.execute(statement).scalar_one())


# Execution option for a connection that only reads (health checks, rendering a document):
# on SQLite it opens a deferred transaction instead of taking the write lock.
READ_ONLY = "csbot_read_only"

# How long a SQLite connection waits for the write lock before SQLITE_BUSY.
BUSY_TIMEOUT_MS = 30000


def read_only(engine: Engine) -> Engine:
    """The engine (same pool) for sessions that only read: on SQLite their transactions
    begin DEFERRED, so under WAL they never hold or wait for the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class NoLock:
    """PostgreSQL's row locks already order the writers of one conversation."""

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *_exc: object) -> None:
        return None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        return None


class FairLock:
    """A lock granted in the order it was asked for. threading.Lock is not: a thread that asks
    while the lock is being released can take it ahead of threads that waited longer, so under
    load one webhook's step can be overtaken again and again (the tail of its latency). Here
    release hands the lock to the longest waiter directly."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: collections.deque[threading.Lock] = collections.deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            if not blocking:
                return False
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by release(): held
        with self._guard:
            try:
                self._waiters.remove(turn)
            except ValueError:
                return True  # handed over just as the wait ran out: held after all
        return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().release()  # the lock stays held, by the next in line
            else:
                self._held = False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()


def one_writer_at_a_time(engine: Engine) -> FairLock | NoLock:
    """A lock for the threads of one process that write to SQLite, granted in turn. Left to
    SQLite's busy handler they sleep and poll, and under load some wait for seconds
    (measured: p99 5.6 s, bench/RESULTS.md). PostgreSQL needs none."""
    return FairLock() if is_sqlite(engine) else NoLock()


def configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers proceed while one writer commits; NORMAL is durable under WAL
        # against process crashes; foreign keys are off by default in SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()
        # Let SQLAlchemy's BEGIN (below) control transactions, not the sqlite3 module.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two transactions never both read
        # and then fail to upgrade to writing (SQLite's "database is locked" deadlock).
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # a reader: never waits for the writer under WAL
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextlib.contextmanager
def impatient_write(conn: Connection, lock_wait_ms: int) -> Iterator[None]:
    """A write transaction on a fresh `conn` that waits at most `lock_wait_ms` for a lock
    (SQLite's write lock, a PostgreSQL row lock) instead of queueing; commits on success.
    A lock that was not granted in time raises an error that `is_lock_wait` recognises."""
    if conn.dialect.name == "sqlite":
        # busy_timeout is the connection's own: set it before BEGIN IMMEDIATE waits, then
        # restore it before the connection goes back to the pool.
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"PRAGMA busy_timeout={int(lock_wait_ms)}")
        try:
            with conn.begin():
                yield
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return
    with conn.begin():
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(lock_wait_ms) * 2}")
        yield


def is_lock_wait(exc: BaseException) -> bool:
    """True when `exc` means "another writer held the lock" (SQLITE_BUSY or SQLITE_LOCKED,
    PostgreSQL's lock_not_available), not that the database refused the write."""
    if not isinstance(exc, DBAPIError):
        return False
    code = database_error_code(exc) or ""
    return code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or code == "55P03"


def database_error_code(exc: BaseException) -> str | None:
    """The driver's error code (SQLite's name such as SQLITE_FULL, PostgreSQL's SQLSTATE),
    which names the failure without quoting any SQL parameter."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorname", None) or getattr(orig, "sqlstate", None)
    return str(code) if code else None
