"""Staging: a TEMPORARY table per list that holds each record's checked row and its index in
the file, written in batches with the driver's executemany, then indexed for the checks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Date, Integer, MetaData, Numeric, Table

from bot.importer.spec import SPECS, ListSpec

BATCH_SIZE = 2000


def stage_table(spec: ListSpec, metadata: MetaData) -> Table:
    live = spec.table
    columns = [Column("idx", Integer, nullable=False), Column("valid", Integer, nullable=False)]
    for name in spec.columns:
        columns.append(Column(name, live.c[name].type, nullable=True))
    return Table(f"csbot_import_{spec.name}", metadata, *columns, prefixes=["TEMPORARY"])


class Stager:
    """Batches staged rows and writes them with the driver's executemany."""

    def __init__(self, conn: Connection, spec: ListSpec, table: Table) -> None:
        self.conn = conn
        self.table = table
        self.columns = ["idx", "valid", *spec.columns]
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        names = ", ".join(self.columns)
        self.sql = (
            f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([marker] * len(self.columns))})"
        )
        self.sqlite = conn.dialect.name == "sqlite"
        # Which positions hold dates and money (SQLite stores them as ISO text and floats).
        self.date_positions = [
            i for i, c in enumerate(self.columns) if c in table.c and _is_date(table.c[c])
        ]
        self.money_positions = [
            i for i, c in enumerate(self.columns) if c in table.c and _is_money(table.c[c])
        ]
        self.rows: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, row: list[Any]) -> None:
        if self.sqlite:
            # What SQLAlchemy's SQLite types store: ISO text dates, float numerics.
            for i in self.date_positions:
                value = row[i]
                if value is not None:
                    row[i] = value.isoformat()
            for i in self.money_positions:
                value = row[i]
                if value is not None:
                    row[i] = float(value)
        self.rows.append(tuple(row))
        self.count += 1
        if len(self.rows) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.conn.exec_driver_sql(self.sql, self.rows)
            self.rows = []


def _is_date(column: Column[Any]) -> bool:
    return isinstance(column.type, Date)


def _is_money(column: Column[Any]) -> bool:
    return isinstance(column.type, Numeric)


def index_stages(conn: Connection, stages: dict[str, Table], present: list[str]) -> None:
    for name in present:
        spec, table = SPECS[name], stages[name]
        conn.exec_driver_sql(
            f"CREATE INDEX {table.name}_key ON {table.name} ({spec.key_column})"
        )
        if name == "people":
            conn.exec_driver_sql(f"CREATE INDEX {table.name}_ssn ON {table.name} (ssn_hash)")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {table.name}")
