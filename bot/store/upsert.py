"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; True when inserted."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = session.execute(insert(model).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)
