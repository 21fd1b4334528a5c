"""Where the benchmarks live and write, and how they log progress.

Everything a benchmark writes (extracts, SQLite databases, request files, server logs) goes
under bench/out/ (git-ignored). Importing this module also puts the repository root on
sys.path, so `python bench/x.py` from a clean clone can import `bot` and `tests.support`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"

if str(REPO_DIR) not in sys.path:  # `python bench/x.py` from a clean clone
    sys.path.insert(0, str(REPO_DIR))


def log(message: str) -> None:
    """A timestamped progress line on stderr (stdout carries the summary)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
