"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


@cache
def _insert_ignoring_conflict(dialect: str, table: Table) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


def insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; True when inserted.

    Runs on every inbound message, so the statement is built once per table and executed as
    plain Core on the session's connection (the ORM's bulk-insert path costs more than the
    insert itself)."""
    connection = session.connection()
    statement = _insert_ignoring_conflict(connection.dialect.name, model.__table__)  # type: ignore[attr-defined]
    # preserve_rowcount: SQLAlchemy 2.1 reports -1 for a PostgreSQL INSERT unless asked.
    result = connection.execute(statement, values, execution_options={"preserve_rowcount": True})
    return result.rowcount == 1
