"""GET /healthz: 200 while the database answers and accepts writes, 503 otherwise (for a
load balancer).

Every probe reads (`SELECT 1` in a read-only transaction, which never waits for SQLite's
writer). A database that answers reads can still refuse every write (a full disk, a file
system remounted read-only, a PostgreSQL standby or a database set read-only), and then
every message fails while a read-only probe stays green. So the probe also rewrites the one
row of `health_probe` with its time, at most once every WRITE_CHECK_INTERVAL_SECONDS per
process: a load balancer probing many times a second costs one small write every few
seconds, and probes in between report the last write's outcome. The write waits at most
WRITE_LOCK_WAIT_MS for a lock (this process's writer lock, then the database's): a writer
holding the lock (an import, a burst of messages) is not a failure, so a write that only timed
out on the lock leaves the last outcome as it was, and the probe never queues behind the
webhooks.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import time

import anyio
from sqlalchemy import insert, text, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.runtime import Runtime
from bot.store.dialect import READ_ONLY, database_error_code, impatient_write, is_lock_wait
from bot.store.models import HealthProbe

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 5
WRITE_CHECK_INTERVAL_SECONDS = 5.0
WRITE_LOCK_WAIT_MS = 1000
PROBE_ROW_ID = 1


class Write(enum.Enum):
    SKIPPED = "skipped"  # not due yet
    OK = "ok"
    LOCK_BUSY = "lock busy"  # another writer held the lock: says nothing either way
    REFUSED = "refused"


class WriteCheck:
    """When the next write is due, and whether the last conclusive one succeeded (per
    process; a worker of `--workers N` keeps its own)."""

    def __init__(self, interval: float = WRITE_CHECK_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.next_at = 0.0
        self.writes_ok = True  # until a write says otherwise

    def claim(self, now: float) -> bool:
        """True for the one probe that should write now. Called on the event loop, so no
        other probe runs between the test and the update."""
        if now < self.next_at:
            return False
        self.next_at = now + self.interval
        return True

    def record(self, outcome: Write) -> None:
        if outcome is Write.OK and not self.writes_ok:
            log.info("health check: the database accepts writes again")
        if outcome in (Write.OK, Write.REFUSED):
            self.writes_ok = outcome is Write.OK


def _database_answers(runtime: Runtime) -> None:
    with runtime.db.connect().execution_options(**{READ_ONLY: True}) as conn:
        conn.execute(text("SELECT 1"))


def _database_accepts_writes(runtime: Runtime) -> Write:
    now = dt.datetime.now(dt.UTC)
    # This process's writers take turns on runtime.writer: wait for it as briefly as for the
    # database's own lock, so the probe never queues behind the webhooks.
    if not runtime.writer.acquire(timeout=WRITE_LOCK_WAIT_MS / 1000):
        return Write.LOCK_BUSY
    try:
        with runtime.db.connect() as conn, impatient_write(conn, WRITE_LOCK_WAIT_MS):
            result = conn.execute(
                update(HealthProbe).where(HealthProbe.id == PROBE_ROW_ID).values(checked_at=now)
            )
            if result.rowcount == 0:  # the row was deleted by hand: put it back
                conn.execute(insert(HealthProbe).values(id=PROBE_ROW_ID, checked_at=now))
    except Exception as exc:
        if is_lock_wait(exc):
            return Write.LOCK_BUSY
        code = database_error_code(exc)
        log.warning(
            "health check: the database refuses writes (%s%s)",
            type(exc).__name__,
            f" {code}" if code else "",
        )
        return Write.REFUSED
    finally:
        runtime.writer.release()
    return Write.OK


def _check(runtime: Runtime, write: bool) -> Write:
    _database_answers(runtime)
    return _database_accepts_writes(runtime) if write else Write.SKIPPED


def health_route(runtime: Runtime, write_check: WriteCheck | None = None) -> Route:
    writes = write_check or WriteCheck()

    async def healthz(_request: Request) -> Response:
        answered = False
        write_due = writes.claim(time.monotonic())
        # A hung connection attempt must not hang the probe: give up after a few seconds
        # (the thread finishes on its own; its result is ignored).
        with anyio.move_on_after(HEALTH_TIMEOUT_SECONDS):
            try:
                outcome = await anyio.to_thread.run_sync(
                    _check, runtime, write_due, abandon_on_cancel=True
                )
                writes.record(outcome)
                answered = True
            except Exception as exc:  # any failure to answer means "unavailable"
                log.warning("health check: database unavailable (%s)", type(exc).__name__)
        if answered and writes.writes_ok:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    return Route("/healthz", healthz, methods=["GET"])
