"""`csbot import FILE [--replace] [--quiet]`: load an account data extract (csbot-import/1)
with `bot.importer.pipeline.import_extract`, then print what changed per list."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands import Commands
from bot.config import Settings
from bot.errors import CommandError, ImportRejected

if TYPE_CHECKING:
    from bot.importer.errors import ImportFailed
    from bot.importer.pipeline import ImportReport


def register(commands: Commands) -> None:
    parser = commands.add_parser("import", help="load an account data extract (csbot-import/1)")
    parser.add_argument("file", type=Path)
    parser.add_argument("--replace", action="store_true", help="make the file the whole truth")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # The importer (ijson, SQLAlchemy, phonenumbers) loads only when this command runs.
    from bot.alerts.delivery import dispatch
    from bot.importer.errors import ImportFailed
    from bot.importer.pipeline import import_extract
    from bot.importer.reader import open_source
    from bot.runtime import open_runtime

    path: Path = args.file

    def progress(message: str) -> None:
        print(f"csbot import: {message}", file=sys.stderr, flush=True)

    # Fail fast on an unreadable file, before touching the database.
    try:
        open_source(path)[0].close()
    except ImportFailed as failed:
        raise CommandError(failed.errors[0]) from None
    with open_runtime(settings) as runtime:
        try:
            report = import_extract(runtime, path, replace=args.replace, progress=None if args.quiet else progress)
        except ImportFailed as failed:
            raise rejection(path, failed) from None
        print(format_report(report, str(path)))
        # The import committed its alert events; queue their alerts now (serve and worker
        # would within half a minute, and take over if this is interrupted).
        dispatched = dispatch(runtime, dt.datetime.now(dt.UTC))
    if report.alert_events or dispatched.events:
        print(f"alerts: {report.alert_events:,} new payment(s) or disbursement(s) to alert;"
              f" {dispatched.queued:,} alert(s) queued, {dispatched.suppressed:,} not sent"
              " (csbot alerts list)")
    return 0


def rejection(path: Path, failed: ImportFailed) -> ImportRejected:
    """The operator's error for a rejected extract: one line, or a count and the lines."""
    lines = failed.lines()
    if failed.total == 1:
        return ImportRejected(f"{path}: {lines[0]} (nothing was imported)")
    return ImportRejected(f"{path}: {failed.total} errors, nothing was imported:", details=lines)


def format_report(report: ImportReport, source: str) -> str:
    as_of = report.as_of.isoformat() if report.as_of else "-"
    lines = [
        f"imported {source} (as of {as_of}{', --replace' if report.replace else ''})"
        f": {report.records:,} records in {report.seconds:.1f} s"
    ]
    header = ("list", "in file", "inserted", "updated", "unchanged", "removed")
    rows = [header] + [
        (
            name,
            f"{c.in_file:,}",
            f"{c.inserted:,}",
            f"{c.updated:,}",
            f"{c.unchanged:,}",
            f"{c.removed:,}",
        )
        for name, c in report.counts.items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)
