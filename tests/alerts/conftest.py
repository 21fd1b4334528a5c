"""Alerts' test helpers: the example extract imported at a clock long before its records, so
nothing in it is recent; extracts written on the fly; a parent's consent through the dialogs."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversation.turn import Channel
from bot.importer.pipeline import ImportReport, import_extract
from bot.store.models import Alert, AlertEvent, OutboundMessage
from tests.support.databases import EXAMPLE_EXTRACT
from tests.support.dialog_harness import make_bot

LONG_AGO = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)  # before every record of the example
NOV_26 = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York


def extract(**lists: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": "csbot-import/1", "as_of": "2026-11-26", **lists}


def import_at(runtime, data: dict[str, Any] | str, now: dt.datetime, *, replace: bool = False) -> ImportReport:
    source = io.BytesIO(json.dumps(data).encode()) if isinstance(data, dict) else data
    return import_extract(runtime, source, replace=replace, now=now)


def disbursement(record_id: str, day: str, case: str = "CS10000001") -> dict[str, Any]:
    return {"id": record_id, "case_number": case, "date": day, "amount": "450.00", "method": "direct_deposit"}


def payment(record_id: str, day: str, case: str = "CS10000001") -> dict[str, Any]:
    return {"id": record_id, "case_number": case, "date": day, "amount": "450.00", "source": "income_withholding"}


def turn_on(runtime, person: dict[str, str], sender: str = "+12125550111", channel: Channel = Channel.SMS,
            word: str = "ALERTS ON") -> None:
    bot = make_bot(runtime)
    bot.verify(person, sender=sender, channel=channel)
    answer = bot.say(word, sender=sender, channel=channel)
    assert "Alerts are on" in answer or "alertes sont activées" in answer, answer


def events(runtime) -> list[AlertEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AlertEvent).order_by(AlertEvent.id)))


def alerts(runtime) -> list[Alert]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def messages(runtime, kind: str = "alert") -> list[OutboundMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboundMessage).where(OutboundMessage.kind == kind)
                                    .order_by(OutboundMessage.id)))


@pytest.fixture
def example_long_ago(db_url, runtime_factory):
    """The example extract, imported when none of its records was recent (SQLite, PostgreSQL)."""
    runtime = runtime_factory(db_url)
    import_at(runtime, str(EXAMPLE_EXTRACT), LONG_AGO)
    return runtime
