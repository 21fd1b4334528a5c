"""Shared fixtures: databases (SQLite file, PostgreSQL schema per test), settings, runtime.

PostgreSQL tests skip with a reason when the server is unreachable, except in CI (CI=true),
where an unreachable server fails them: CI must prove the scale-out path.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bot.config import load_settings
from tests.support.databases import (
    EXAMPLE_EXTRACT,
    TEST_SECRET_KEY,
    drop_postgres_schema,
    new_postgres_schema,
    require_postgres,
)

pytest_plugins = ["tests.support.serve_process", "tests.support.live_service"]

@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'csbot.db'}"


@pytest.fixture
def postgres_url():
    require_postgres()
    url, schema = new_postgres_schema()
    try:
        yield url
    finally:
        drop_postgres_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'csbot.db'}"
        return
    require_postgres()
    url, schema = new_postgres_schema()
    try:
        yield url
    finally:
        drop_postgres_schema(schema)


@pytest.fixture
def make_settings(monkeypatch: pytest.MonkeyPatch):
    """Settings read from a clean environment plus the given variables."""

    def build(database_url: str, **env: str):
        for name in list(os.environ):
            if name.startswith(("CSBOT_", "TWILIO_", "TELEGRAM_")):
                monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("CSBOT_DATABASE_URL", database_url)
        monkeypatch.setenv("CSBOT_SECRET_KEY", TEST_SECRET_KEY)
        # No quiet hours unless a test sets them: a test must not depend on the time of day.
        monkeypatch.setenv("CSBOT_QUIET_HOURS", "off")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings()

    return build


@pytest.fixture
def example_extract() -> dict:
    return json.loads(EXAMPLE_EXTRACT.read_text(encoding="utf-8"))


@pytest.fixture
def example_extract_path(tmp_path: Path) -> Path:
    target = tmp_path / "example-import.json"
    shutil.copy(EXAMPLE_EXTRACT, target)
    return target


@pytest.fixture
def runtime_factory(make_settings):
    """Open runtimes on a database with extra settings; every one is disposed afterwards."""
    from bot.runtime import Runtime, open_runtime

    opened: list[Runtime] = []

    def build(database_url: str, **env: str) -> Runtime:
        runtime = open_runtime(make_settings(database_url, **env))
        opened.append(runtime)
        return runtime

    yield build
    for runtime in opened:
        runtime.dispose()


@pytest.fixture
def runtime(db_url, runtime_factory):
    """An empty, migrated database (SQLite and PostgreSQL)."""
    return runtime_factory(db_url)


@pytest.fixture
def loaded_runtime(db_url, runtime_factory):
    """The example extract (tests/example-import.json) imported, documents linked from
    https://bot.example.org."""
    from bot.importer.pipeline import import_extract

    runtime = runtime_factory(db_url, CSBOT_PUBLIC_URL="https://bot.example.org")
    import_extract(runtime, EXAMPLE_EXTRACT)
    return runtime
