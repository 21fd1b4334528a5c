"""Synthetic case data for the benchmarks: extracts (bot.demo.synthetic), SQLite databases loaded
from them, and throw-away PostgreSQL schemas.

Loaded SQLite databases are cached under bench/out/ by case count and seed, and copied before
a run writes to them, so a second run does not import again.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from settings import open_bench_runtime
from workspace import OUT_DIR, log

if TYPE_CHECKING:
    from bot.runtime import Runtime

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SEED = 1


def extract_path(cases: int) -> Path:
    """A synthetic extract with `cases` cases, 12 months each (written once, then reused)."""
    from bot.demo.synthetic import generate

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"extract-{cases}-s{SEED}.json"
    if not path.exists():
        started = time.monotonic()
        partial = path.with_suffix(".partial")
        generate(partial, cases=cases, months=12, seed=SEED)
        partial.rename(path)
        log(f"generated {path.name} in {time.monotonic() - started:.0f} s")
    return path


def load_extract(runtime: Runtime, cases: int) -> None:
    """Import the `cases` extract into the runtime's database."""
    from bot.importer.pipeline import import_extract

    started = time.monotonic()
    report = import_extract(runtime, extract_path(cases))
    log(f"imported {cases:,} cases ({report.records:,} records) in {time.monotonic() - started:.0f} s")


def sqlite_dataset(cases: int, run_name: str) -> str:
    """A SQLite URL for a fresh copy of the cached `cases` database (imported once)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    cached = OUT_DIR / f"cases-{cases}-s{SEED}.db"
    if not cached.exists():
        building = OUT_DIR / f"cases-{cases}-s{SEED}.building.db"
        building.unlink(missing_ok=True)
        runtime = open_bench_runtime(f"sqlite:///{building}")
        try:
            load_extract(runtime, cases)
        finally:
            runtime.dispose()  # the last connection to close checkpoints and removes the WAL
        for suffix in ("-wal", "-shm"):
            Path(str(building) + suffix).unlink(missing_ok=True)
        building.rename(cached)
    copy = OUT_DIR / f"run-{run_name}-{cases}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(copy) + suffix).unlink(missing_ok=True)
    shutil.copyfile(cached, copy)
    return f"sqlite:///{copy}"


@contextlib.contextmanager
def postgres_schema(base_url: str, label: str) -> Iterator[str]:
    """A dedicated schema (created, then dropped) and the URL that uses it."""
    import psycopg

    schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL at {plain} is not reachable: {str(exc).splitlines()[0]}") from None
    separator = "&" if "?" in plain else "?"
    try:
        yield f"{plain}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
