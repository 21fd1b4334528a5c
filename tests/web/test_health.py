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
