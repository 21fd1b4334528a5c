"""Migrations bring an older database up to date without losing a conversation."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import text

from bot.store.database import alembic_config, make_engine, upgrade
from dialogs.context import State


def test_a_conversation_left_idle_by_an_older_release_is_idle_after_the_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0001")  # the first release's schema
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO conversations (channel, sender, state, data, created_at)"
                    " VALUES ('sms', '+12125550100', 'start', '{}', :now)"
                ),
                {"now": dt.datetime.now(dt.UTC)},
            )
        assert upgrade(engine) is True
        with engine.connect() as conn:
            state = conn.execute(text("SELECT state FROM conversations")).scalar_one()
        assert State(state) is State.IDLE
        assert upgrade(engine) is False  # already up to date
    finally:
        engine.dispose()


def test_0003_adds_the_document_link_counts_as_the_model_declares(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from bot.store.models import Base

    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0002")
        assert "document_link_opens" not in inspect(engine).get_table_names()
        assert upgrade(engine) is True
        assert "document_link_opens" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert differences == []
        command.downgrade(alembic_config(engine), "0002")
        assert "document_link_opens" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
