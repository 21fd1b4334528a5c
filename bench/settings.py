"""The environment and settings csbot runs with in a benchmark, in a subprocess (`bench_env`)
or in this process (`open_bench_runtime`).

The environment is the tests' clean one (tests.support.environment.csbot_env: nothing of
the developer's CSBOT_/TWILIO_/TELEGRAM_ variables leaks in) with the benchmarks' own key.
That module loads neither pytest nor httpx, so bench_memory.py's own RSS stays as it was.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import workspace  # noqa: F401  (puts the repository root on sys.path)

from tests.support.environment import csbot_env

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime import Runtime

# A fixed key: every database a benchmark builds is hashed with it, so cached ones stay usable.
BENCH_SECRET_KEY = "bench-secret-key-0123456789abcdef-not-for-production"


def bench_env(database_url: str, **variables: str) -> dict[str, str]:
    """A clean environment for csbot with the benchmark key; `variables` go on top."""
    defaults = {
        "CSBOT_SECRET_KEY": BENCH_SECRET_KEY,
        # Verified once before the load; the session must outlive the run.
        "CSBOT_SESSION_IDLE_SECONDS": "86400",
    }
    return csbot_env(database_url, **{**defaults, **variables})


def settings_for(database_url: str, **variables: str) -> Settings:
    """csbot's settings as `csbot serve` would load them from `bench_env(...)`."""
    from bot.config import load_settings

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(bench_env(database_url, **variables))
    try:
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def open_bench_runtime(database_url: str, **variables: str) -> Runtime:
    """A runtime (migrated database, sessions, hasher) in this process."""
    from bot.runtime import open_runtime

    return open_runtime(settings_for(database_url, **variables))
