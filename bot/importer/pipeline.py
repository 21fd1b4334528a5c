"""Loading an account data extract (csbot-import/1): `import_extract`, behind `csbot import`.

How it stays strict, atomic and flat in memory on a million-person file:

1. One streaming pass (ijson, C backend when present) reads each record, checks its own
   fields and writes it, with its index in the file, to a TEMPORARY staging table per list
   in batches. Nothing is held per record after its batch is written.
2. SQL checks over staging and live tables find duplicated keys and SSNs, dangling
   references (a reference may point anywhere in the file or at what is stored) and, with
   --replace, removals a kept record still refers to. Each error names `list[index].field`.
3. If there is no error, staging is upserted into the live tables (INSERT ... SELECT ...
   ON CONFLICT DO UPDATE, only rows that differ) and, with --replace, the rest removed.

All of it runs in one transaction: any error and nothing is written. SSNs and PINs exist
only as keyed hashes from the moment a record is read; no message ever quotes a field's value
(only reference keys such as office codes, case numbers and person ids, which are not secret).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import ijson
from sqlalchemy import Connection, MetaData, insert
from sqlalchemy.exc import IntegrityError

from bot.hashing import KeyedHasher
from bot.importer.checks import CrossChecks, RecordChecker
from bot.importer.errors import Errors, ImportFailed, show_key
from bot.importer.fields import Bad, date
from bot.importer.reader import json_error_message, open_source, skip_bom, unreadable, walk
from bot.importer.spec import FORMAT, LIST_ORDER, SPECS, TOP_LEVEL_SCALARS, table_of
from bot.importer.staging import Stager, index_stages, stage_table
from bot.importer.write import ListCounts, write
from bot.outbound.quiet import local_today
from bot.store import models

PROGRESS_EVERY = 100_000


@dataclass
class ImportReport:
    as_of: dt.date | None
    replace: bool
    counts: dict[str, ListCounts] = field(default_factory=dict)
    seconds: float = 0.0
    alert_events: int = 0  # new payments and disbursements an alert may follow

    @property
    def records(self) -> int:
        return sum(c.in_file for c in self.counts.values())


def import_extract(
    runtime: Any,
    source: str | Path | BinaryIO,
    *,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Validate and load one extract in one transaction; raise ImportFailed on any error.
    Alert events for new, recent records are recorded in that same transaction; `now` (the
    import's clock, default the wall clock) decides what "recent" means."""
    started = now or dt.datetime.now(dt.UTC)
    today = local_today(started, runtime.settings.timezone)
    clock = time.monotonic()
    handle, path, owned = open_source(source)
    try:
        with runtime.db.begin() as conn:
            report = _run(conn, runtime.hasher, handle, path, replace, progress, today, started)
            if report is None:  # pragma: no cover - _run raises instead
                raise ImportFailed(["import failed"])
            conn.execute(
                insert(table_of(models.ImportRun)).values(
                    started_at=started,
                    finished_at=started + dt.timedelta(seconds=time.monotonic() - clock),
                    as_of=report.as_of,
                    replace=replace,
                    records=report.records,
                )
            )
    finally:
        if owned:
            handle.close()
    report.seconds = time.monotonic() - clock
    return report


def _run(
    conn: Connection,
    hasher: KeyedHasher,
    handle: BinaryIO,
    path: Path | None,
    replace: bool,
    progress: Callable[[str], None] | None,
    today: dt.date,
    now: dt.datetime,
) -> ImportReport:
    errors = Errors()
    if conn.dialect.name == "sqlite":
        # A bigger page cache for this one connection: staging joins stay in memory longer.
        conn.exec_driver_sql("PRAGMA cache_size=-65536")
    metadata = MetaData()
    stages = {name: stage_table(spec, metadata) for name, spec in SPECS.items()}
    for table in stages.values():
        table.create(conn)
    stagers = {name: Stager(conn, SPECS[name], stages[name]) for name in SPECS}
    checkers = {name: RecordChecker(SPECS[name], hasher, errors) for name in SPECS}
    scalars: dict[str, Any] = {}
    seen_lists: list[str] = []
    read = 0
    try:
        for item in walk(skip_bom(handle)):
            if item.kind == "record":
                checker = checkers.get(item.key)
                if checker is None or item.key in seen_lists[:-1]:
                    continue  # an unknown or repeated list: reported once at its start
                stagers[item.key].add(checker.row(item.value, item.index, item.dups))
                read += 1
                if progress and read % PROGRESS_EVERY == 0:
                    progress(f"{read:,} records read")
            elif item.kind == "list_start":
                if item.key not in SPECS:
                    errors.add(f"{show_key(item.key)}: unknown field")
                elif item.key in seen_lists:
                    errors.add(f"{item.key}: appears more than once")
                seen_lists.append(item.key)
            elif item.kind == "not_object":
                if item.key in SPECS:
                    errors.add(f"{item.key}[{item.index}]: must be an object", item.key, item.index)
            elif item.kind == "scalar":
                if item.key in SPECS:
                    errors.add(f"{item.key}: must be a list")
                    seen_lists.append(item.key)
                elif item.key not in TOP_LEVEL_SCALARS:
                    errors.add(f"{show_key(item.key)}: unknown field")
                elif item.key in scalars:
                    errors.add(f"{item.key}: appears more than once")
                else:
                    scalars[item.key] = item.value
                    if item.key == "format" and item.value != FORMAT:
                        # Another format's lists would only give a flood of errors.
                        raise ImportFailed([f'format: must be "{FORMAT}"'])
            elif item.kind == "bad_root":
                raise ImportFailed(["the file must hold one JSON object"])
    except ijson.JSONError as exc:
        raise ImportFailed([json_error_message(exc, path)]) from None
    except UnicodeDecodeError:
        raise ImportFailed(["the file is not UTF-8 text"]) from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    for stager in stagers.values():
        stager.flush()
    if progress and read >= PROGRESS_EVERY:
        progress(f"{read:,} records read; checking keys and references")

    if "format" not in scalars:
        errors.add(f'format: is required ("{FORMAT}")')
    as_of: dt.date | None = None
    if "as_of" not in scalars:
        errors.add("as_of: is required")
    else:
        try:
            as_of = date(scalars["as_of"])
        except Bad as bad:
            errors.add(f"as_of: {bad}")

    present = [name for name in LIST_ORDER if name in seen_lists]
    index_stages(conn, stages, present)
    checks = CrossChecks(conn, stages, present, replace, errors)
    checks.run()
    if errors:
        raise errors.failure()

    if progress and read >= PROGRESS_EVERY:
        progress("writing")
    report = ImportReport(as_of=as_of, replace=replace)
    for name in present:
        report.counts[name] = ListCounts(in_file=stagers[name].count)
    try:
        report.alert_events = write(conn, stages, present, replace, as_of, report.counts, today, now)
    except IntegrityError:
        raise ImportFailed(
            [
                "the store refused the change (two people would share an SSN: if SSNs moved"
                " between stored people, import the change in two steps)"
            ]
        ) from None
    for table in stages.values():
        table.drop(conn)
    return report
