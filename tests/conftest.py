"""Shared fixtures: databases (SQLite file, PostgreSQL schema per test), settings, runtime.

PostgreSQL tests skip with a reason when the server is unreachable, except in CI (CI=true),
where an unreachable server fails them: CI must prove the scale-out path.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import pytest

from bot.config import load_settings

FIXTURES = Path(__file__).parent
EXAMPLE_EXTRACT = FIXTURES / "example-import.json"
POSTGRES_ADMIN_URL = os.environ.get(
    "CSBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_reachable() -> str | None:
    """None when reachable, else the reason."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # any failure means "not here"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"


_PG_PROBLEM: str | None | bool = False  # False = not probed yet


def postgres_problem() -> str | None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_reachable()
    return _PG_PROBLEM  # type: ignore[return-value]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable ({problem})"
    if IN_CI:
        pytest.fail(message + ": CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(message)


def new_postgres_schema() -> tuple[str, str]:
    """Create an empty schema; return (url bound to it, schema name)."""
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_ADMIN_URL else "?"
    return f"{POSTGRES_ADMIN_URL}{separator}options=-csearch_path%3D{schema}", schema


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
