"""Writing a checked extract: staging upserted into the live tables (INSERT ... SELECT ...
ON CONFLICT DO UPDATE, only rows that differ), counted per list, and with --replace the live
records the file no longer has removed, children before parents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, exists, func, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite

from bot.alerts.events import record_import_events
from bot.importer.spec import SPECS, table_of
from bot.store import models


@dataclass
class ListCounts:
    in_file: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


def write(
    conn: Connection,
    stages: dict[str, Table],
    present: list[str],
    replace: bool,
    as_of: dt.date | None,
    counts: dict[str, ListCounts],
    alerts_today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Fill in each present list's inserted, updated, unchanged and removed counts. With
    `alerts_today` (the import's local date), record alert events for new, recent payments and
    disbursements (bot/alerts/events.py) before they are stored; returns how many."""
    events = 0
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    if replace and "people" in present:
        _release_removed_ssns(conn, stages["people"])
    for name in present:  # LIST_ORDER: parents before children
        spec, stage = SPECS[name], stages[name]
        live = spec.table
        key = spec.key_column
        columns = list(spec.columns)
        source_columns: list[Any] = [stage.c[c] for c in columns]
        if name == "cases":
            columns.append("as_of")
            source_columns.append(literal(as_of, live.c.as_of.type))
        same = [live.c[c].is_not_distinct_from(src) for c, src in zip(columns, source_columns, strict=True)]
        identical = exists().where(live.c[key] == stage.c[key], *same)
        stored = exists().where(live.c[key] == stage.c[key])
        listed = counts[name]
        listed.inserted = conn.execute(
            select(func.count()).select_from(stage).where(~stored)
        ).scalar_one()
        listed.unchanged = conn.execute(
            select(func.count()).select_from(stage).where(identical)
        ).scalar_one()
        listed.updated = listed.in_file - listed.inserted - listed.unchanged
        if alerts_today is not None and now is not None and listed.inserted:
            events += record_import_events(conn, name, stage, live, alerts_today, now)
        if listed.inserted + listed.updated == 0:
            continue
        # WHERE true: SQLite needs it to parse ON CONFLICT after INSERT ... SELECT.
        changed = select(*source_columns).where(~identical).where(true())
        statement = dialect_insert(live).from_select(columns, changed)
        statement = statement.on_conflict_do_update(
            index_elements=[live.c[key]],
            set_={c: statement.excluded[c] for c in columns if c != key},
        )
        conn.execute(statement)
    if replace:
        for name in reversed(present):  # children before parents
            spec, stage = SPECS[name], stages[name]
            live = spec.table
            gone = live.delete().where(
                ~exists().where(stage.c[spec.key_column] == live.c[spec.key_column])
            )
            counts[name].removed = conn.execute(gone).rowcount or 0
    return events


def _release_removed_ssns(conn: Connection, stage: Table) -> None:
    """People removed by --replace are deleted last (cases may still point at them until the
    cases are rewritten); give their SSN hash a throwaway value first, so a person in the file
    may take over an SSN a removed person held. Both happen in this one transaction."""
    live = table_of(models.Person)
    if conn.dialect.name == "postgresql":
        throwaway = func.sha256(func.convert_to(literal("removed\x01") + live.c.id, "UTF8"))
    else:
        throwaway = func.randomblob(32)
    conn.execute(
        live.update()
        .where(~exists().where(stage.c.id == live.c.id))
        .values(ssn_hash=throwaway)
    )
