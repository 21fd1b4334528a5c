"""Import benchmark: records per second and peak memory of `csbot import`.

    python bench/bench_import.py                      # 10k and 100k cases, SQLite
    python bench/bench_import.py --cases 10000 --postgres postgresql://postgres@127.0.0.1/test

For each size it writes a synthetic extract (bot.demo.synthetic, seed 1, 12 months), imports it
into an empty database with `csbot import` in a child process (first import: all inserts),
imports it again (all unchanged), and reads each child's peak RSS from os.wait4. Flat memory
means the 100k figure is close to the 10k one. Results are printed and appended to
bench/RESULTS.md with the date, machine and command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
SECRET = "bench-secret-key-0123456789abcdef"


def run_import(path: Path, database_url: str) -> tuple[float, float, float]:
    """Wall seconds of the whole command (start-up and migrations included), seconds of the
    import itself (from its summary line), and peak RSS in MiB."""
    env = dict(os.environ, CSBOT_DATABASE_URL=database_url, CSBOT_SECRET_KEY=SECRET)
    command = [sys.executable, "-m", "bot.cli", "import", "--quiet", str(path)]
    started = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = child.stdout.read().decode()  # type: ignore[union-attr]
    err = child.stderr.read().decode()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}): {err.strip()}")
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    summary = out.splitlines()[0]
    import_seconds = float(re.search(r" in ([0-9.]+) s$", summary).group(1))  # type: ignore[union-attr]
    return seconds, import_seconds, peak


def fresh_postgres(admin_url: str) -> tuple[str, str]:
    import secrets

    import psycopg

    schema = "bench_" + secrets.token_hex(4)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in admin_url else "?"
    return f"{admin_url}{separator}options=-csearch_path%3D{schema}", schema


def drop_postgres(admin_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--postgres", metavar="URL", help="benchmark PostgreSQL instead of SQLite")
    parser.add_argument("--workdir", type=Path, help="where extracts and databases go (default: a temp dir)")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()

    sys.path.insert(0, str(HERE.parent))
    from bot.demo.synthetic import generate

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="csbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database = "PostgreSQL" if args.postgres else "SQLite"
    load_before = _load()
    rows = []
    try:
        for cases in args.cases:
            extract = workdir / f"synthetic-{cases}-{args.months}m.json"
            started = time.monotonic()
            counts = generate(extract, cases=cases, months=args.months, seed=1)
            generated = time.monotonic() - started
            records = sum(counts.values())
            size_mb = extract.stat().st_size / 1e6
            print(f"{cases:,} cases: {records:,} records, {size_mb:,.0f} MB, generated in {generated:.0f} s",
                  flush=True)
            schema = None
            if args.postgres:
                url, schema = fresh_postgres(args.postgres)
            else:
                db = workdir / f"bench-{cases}.db"
                for leftover in workdir.glob(db.name + "*"):
                    leftover.unlink()
                url = f"sqlite:///{db}"
            try:
                for label in ("first import", "re-import"):
                    wall, seconds, peak = run_import(extract, url)
                    rate = records / seconds
                    print(f"  {label}: import {seconds:.1f} s ({wall:.1f} s with start-up),"
                          f" {rate:,.0f} records/s, peak RSS {peak:,.0f} MiB", flush=True)
                    rows.append((cases, records, size_mb, label, seconds, wall, rate, peak))
            finally:
                if schema and args.postgres:
                    drop_postgres(args.postgres, schema)
            extract.unlink()
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    if not args.no_record:
        record(rows, database, args, load_before)
    return 0


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def record(rows: list[tuple], database: str, args: argparse.Namespace, load_before: str) -> None:
    uname = " ".join(platform.uname())
    command = "python bench/bench_import.py " + " ".join(sys.argv[1:])
    lines = [
        f"## Import ({database.lower()}) — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: `{uname}`, nproc {os.cpu_count()} (shared with other jobs: see load)",
        f"- command: `{command.strip()}`",
        f"- load average before: {load_before}, after: {_load()}",
        "",
        "| cases | records | file MB | run | import s | command s | records/s | peak RSS MiB |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for cases, records, size_mb, label, seconds, wall, rate, peak in rows:
        lines.append(
            f"| {cases:,} | {records:,} | {size_mb:,.0f} | {label} | {seconds:.1f} | {wall:.1f}"
            f" | {rate:,.0f} | {peak:,.0f} |"
        )
    lines.append("")
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nNewest entries last.\n\n", encoding="utf-8")
    separator = "" if RESULTS.read_text(encoding="utf-8").endswith("\n\n") else "\n"
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(separator + "\n".join(lines) + "\n")
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
