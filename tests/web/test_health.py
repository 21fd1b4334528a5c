"""/healthz answers from a reader: a long write (an import in progress) does not hold it up."""

from __future__ import annotations

import time

from sqlalchemy import text
from starlette.testclient import TestClient

from bot.runtime import open_runtime
from bot.web.app import create_app


def test_healthz_does_not_wait_for_the_sqlite_writer(make_settings, sqlite_url):
    runtime = open_runtime(make_settings(sqlite_url, CSBOT_SESSION_IDLE_SECONDS="900"))
    writer = runtime.db.connect()
    writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held from here
    try:
        app = create_app(runtime, components=[])
        with TestClient(app) as client:
            started = time.monotonic()
            response = client.get("/healthz")
            waited = time.monotonic() - started
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        # Waiting for the lock would take the busy timeout (30 s) or the probe limit (5 s).
        assert waited < 4
    finally:
        writer.rollback()
        writer.close()
        runtime.dispose()


def test_healthz_does_not_queue_behind_this_process_writers(make_settings, sqlite_url):
    """A step or a claim of this process holding runtime.writer: the probe's write gives up
    after WRITE_LOCK_WAIT_MS (the last outcome stands) instead of waiting its turn."""
    from bot.web.health import WRITE_LOCK_WAIT_MS

    runtime = open_runtime(make_settings(sqlite_url))

    def probe_row():
        with runtime.db.connect() as conn:
            return conn.execute(text("SELECT id, checked_at FROM health_probe")).all()

    before = probe_row()
    runtime.writer.acquire()
    try:
        app = create_app(runtime, components=[])
        with TestClient(app) as client:
            started = time.monotonic()
            response = client.get("/healthz")
            waited = time.monotonic() - started
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert WRITE_LOCK_WAIT_MS / 1000 <= waited < 4  # it did wait for the lock, briefly
        assert probe_row() == before  # nothing written while another writer had its turn
    finally:
        runtime.writer.release()
        runtime.dispose()
