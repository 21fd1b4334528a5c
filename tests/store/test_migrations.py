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


def test_0009_adds_the_staff_desk_tables_and_the_audit_detail_and_goes_back(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from bot.store.models import Base

    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0008")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_records (person_id, channel, sender, record_kind, at)"
                    " VALUES ('P-1', 'sms', '+12125550100', 'balance', :now)"
                ),
                {"now": dt.datetime.now(dt.UTC)},
            )
        assert upgrade(engine) is True
        tables = set(inspect(engine).get_table_names())
        assert {"staff_users", "staff_user_offices"} <= tables
        with engine.connect() as conn:
            assert conn.execute(text("SELECT record_kind, detail FROM audit_records")).one() == ("balance", None)
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        command.downgrade(alembic_config(engine), "0008")
        assert "staff_users" not in inspect(engine).get_table_names()
        assert "detail" not in {c["name"] for c in inspect(engine).get_columns("audit_records")}
    finally:
        engine.dispose()


def test_0010_adds_the_alert_tables_as_the_model_declares_and_goes_back(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from bot.store.models import Base

    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0009")
        assert "alert_consents" not in inspect(engine).get_table_names()
        assert upgrade(engine) is True
        assert {"alert_consents", "alert_events", "alerts"} <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        command.downgrade(alembic_config(engine), "0009")
        assert not {"alert_consents", "alert_events", "alerts"} & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
