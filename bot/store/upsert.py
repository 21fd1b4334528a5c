"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; True when inserted."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # preserve_rowcount: SQLAlchemy 2.1 reports -1 for a PostgreSQL INSERT unless asked.
    result = session.execute(
        insert(model).values(**values).on_conflict_do_nothing(),
        execution_options={"preserve_rowcount": True},
    )
    return result.rowcount == 1
