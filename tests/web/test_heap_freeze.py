"""The service's own process freezes start-up's objects out of the garbage collector's sight
(full collections walked them all, tens of milliseconds under a webhook); an app built for a
test does not, so a test run's garbage is never kept for good."""

from __future__ import annotations

import gc

from starlette.testclient import TestClient

from bot.web.app import create_app


def test_freeze_heap_freezes_start_up_objects_and_is_off_by_default(runtime_factory, sqlite_url):
    runtime = runtime_factory(sqlite_url)
    gc.unfreeze()
    try:
        with TestClient(create_app(runtime, components=[])) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == 0
        with TestClient(create_app(runtime, components=[], freeze_heap=True)) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000  # SQLAlchemy, Starlette, Babel, ...
    finally:
        gc.unfreeze()
