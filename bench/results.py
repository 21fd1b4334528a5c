"""Recording results: the --no-record flag, dated entries appended to bench/RESULTS.md, and
the small helpers that shape figures for them (Markdown tables, percentiles)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shlex
import sys
from pathlib import Path

import machine
from workspace import BENCH_DIR, REPO_DIR

RESULTS_PATH = BENCH_DIR / "RESULTS.md"
RECORD = True  # --no-record (a trial run): print the entry, do not append it


def add_record_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-record", action="store_true",
                        help="print the summary without appending it to bench/RESULTS.md")


def set_record(args: argparse.Namespace) -> None:
    global RECORD
    RECORD = not args.no_record


def command_line() -> str:
    """How this benchmark was run, as a command to paste (script path relative to the repo)."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(REPO_DIR)
    return "python " + " ".join(shlex.quote(a) for a in [str(script), *sys.argv[1:]])


def append_results(title: str, body: str) -> None:
    """Add a dated entry to bench/RESULTS.md (append-only) and print it."""
    stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    entry = (
        f"\n## {title} — {stamp}\n\n"
        f"- machine: {machine.describe()}\n"
        f"- command: `{command_line()}`\n\n"
        f"{body.strip()}\n"
    )
    if not RECORD:
        print(entry)
        return
    if not RESULTS_PATH.exists():
        RESULTS_PATH.write_text(
            "# Benchmark results\n\nAppended by the scripts in bench/ (see bench/README.md);"
            " newest last. Absolute figures on a shared 2-core machine are noisy: compare the"
            " ratios measured within one run.\n",
            encoding="utf-8",
        )
    with RESULTS_PATH.open("a", encoding="utf-8") as out:
        out.write(entry)
    print(entry)


def md_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(sorted_values: list[float], pct: float) -> float:
    """The nearest-rank percentile of already sorted values (nan when there are none)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]
