"""Test databases: the example extract, the test key, and PostgreSQL reachability and schemas.

PostgreSQL tests skip with a reason when the server is unreachable, except in CI (CI=true),
where an unreachable server fails them: CI must prove the scale-out path.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent
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
    import pytest  # here, not above: benchmarks import this module's key without pytest

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
