"""Turning alert events into alerts: one row per person, kind, day and chat (`alerts`), and for
each chat whose consent is in force one queued message (`outbound_messages`, kind "alert").

`dispatch` takes the events not yet dispatched, oldest first, a batch per transaction: the
batch's alert rows, their messages and the events' `dispatched_at` commit together, so a
crash loses or doubles nothing (the next run takes the same events again). Two processes at
once: PostgreSQL hands each its own events (FOR UPDATE SKIP LOCKED), and the alerts' unique
key keeps a second alert for the same person, kind, day and chat out in any case.

A person with no consent in force gets one suppressed row: "no consent", or the reason of
their latest withdrawal ("opted out", "unreachable"), for `csbot alerts list`.

Texts are rendered when queued (the chat's language: the one last chosen in the chat, else the
one consent was given in); an SMS is GSM-7 in one segment, a Telegram message has the
buttons. The message carries the audit record written when it is sent (bot/outbound/queue.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.alerts.consent import NO_CONSENT, PENDING, REASON_OF_WITHDRAWAL, SUPPRESSED, Withdrawal
from bot.channels.sms.render import fit_for_sms
from bot.i18n import translator
from bot.outbound.messages import PRIORITY_OF, Kind
from bot.runtime import Runtime
from bot.store.dialect import is_sqlite
from bot.store.models import Alert, AlertConsent, AlertEvent, Conversation, OutboundMessage
from dialogs.alerts import AUDIT_KIND, AlertKind, alert_choices, alert_text

BATCH = 2000
ALERTS = cast(Table, Alert.__table__)
MESSAGES = cast(Table, OutboundMessage.__table__)


@dataclass
class DispatchReport:
    events: int = 0
    queued: int = 0  # alerts queued for a chat
    suppressed: int = 0  # alerts recorded as not sent, with their reason


@dataclass(frozen=True)
class _Chat:
    channel: str
    recipient: str
    locale: str


def dispatch(runtime: Runtime, now: dt.datetime, *, batch: int = BATCH) -> DispatchReport:
    """Dispatch every event not dispatched yet, `batch` events a transaction."""
    report = DispatchReport()
    settings = runtime.settings
    while True:
        with runtime.write() as session:  # after this process's other writers (SQLite: one at a time)
            done = dispatch_batch(session, now, batch=batch, program=settings.program_name,
                                  sms_encoding=settings.sms_encoding, report=report,
                                  skip_locked=not is_sqlite(runtime.db))
        if done < batch:
            return report


def dispatch_batch(
    session: Session, now: dt.datetime, *, batch: int, program: str, sms_encoding: str,
    report: DispatchReport, skip_locked: bool = False,
) -> int:
    """One batch in the caller's transaction; how many events it took."""
    query = (select(AlertEvent.id, AlertEvent.person_id, AlertEvent.kind, AlertEvent.event_date)
             .where(AlertEvent.dispatched_at.is_(None)).order_by(AlertEvent.id).limit(batch))
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    events = session.execute(query).all()
    if not events:
        return 0
    in_force, withdrawn = _consents(session, {e.person_id for e in events})
    rows: list[dict[str, Any]] = []
    chats: dict[tuple[str, str, str], _Chat] = {}
    for event in events:
        base = {"event_id": event.id, "person_id": event.person_id, "kind": event.kind,
                "event_date": event.event_date, "created_at": now}
        chats_in_force = in_force.get(event.person_id, [])
        for chat in chats_in_force:
            rows.append({**base, "channel": chat.channel, "recipient": chat.recipient, "status": PENDING,
                         "reason": None})
            chats[(event.person_id, chat.channel, chat.recipient)] = chat
        if not chats_in_force:
            channel, recipient, reason = withdrawn.get(event.person_id, ("", "", NO_CONSENT))
            rows.append({**base, "channel": channel, "recipient": recipient, "status": SUPPRESSED,
                         "reason": reason})
    inserted = _insert_alerts(session, rows)
    pending = [row for row in inserted if row.status == PENDING]
    report.events += len(events)
    report.suppressed += len(inserted) - len(pending)
    report.queued += len(pending)
    if pending:
        _queue_messages(session, pending, chats, now, program, sms_encoding)
    session.execute(
        update(AlertEvent).where(AlertEvent.id.in_([e.id for e in events])).values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(events)


def _consents(
    session: Session, person_ids: set[str]
) -> tuple[dict[str, list[_Chat]], dict[str, tuple[str, str, str]]]:
    """Per person: the chats whose consent is in force (with the chat's language), and the
    latest withdrawal (chat and reason) for someone with none in force."""
    rows = session.execute(
        select(AlertConsent.person_id, AlertConsent.channel, AlertConsent.recipient, AlertConsent.locale,
               AlertConsent.withdrawn_at, AlertConsent.withdrawn_reason, Conversation.chosen_locale)
        .outerjoin(Conversation, and_(Conversation.channel == AlertConsent.channel,
                                      Conversation.sender == AlertConsent.recipient))
        .where(AlertConsent.person_id.in_(person_ids))
        .order_by(AlertConsent.given_at, AlertConsent.id)
    ).all()
    in_force: dict[str, list[_Chat]] = defaultdict(list)
    withdrawn: dict[str, tuple[str, str, str]] = {}
    latest: dict[str, dt.datetime] = {}
    for row in rows:
        if row.withdrawn_at is None:
            in_force[row.person_id].append(_Chat(row.channel, row.recipient, row.chosen_locale or row.locale))
        elif row.person_id not in latest or row.withdrawn_at >= latest[row.person_id]:
            latest[row.person_id] = row.withdrawn_at
            reason = REASON_OF_WITHDRAWAL.get(Withdrawal(row.withdrawn_reason or "off"), "opted out")
            withdrawn[row.person_id] = (row.channel, row.recipient, reason)
    return in_force, withdrawn


def _insert_alerts(session: Session, rows: list[dict[str, Any]]) -> list[Any]:
    """Insert the rows not already there (one per person, kind, day and chat); the inserted."""
    if not rows:
        return []
    connection = session.connection()
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(ALERTS)
        .on_conflict_do_nothing(index_elements=["person_id", "kind", "event_date", "channel", "recipient"])
        .returning(ALERTS.c.id, ALERTS.c.person_id, ALERTS.c.kind, ALERTS.c.event_date, ALERTS.c.channel,
                   ALERTS.c.recipient, ALERTS.c.status)
    )
    return list(connection.execute(statement, rows).all())


@cache
def _texts(kind: str, locale: str, day: dt.date, program: str, sms_encoding: str) -> tuple[list[str], dict[str, Any]]:
    """(SMS parts, Telegram payload without the audit) of one alert: the same for everyone."""
    t = translator(locale)
    text = alert_text(t, AlertKind(kind), program, day)
    choices = [[label, word] for label, word in alert_choices(t, AlertKind(kind))]
    telegram = {"text": text, "choices": choices, "document": None, "links": [], "locale": t.locale}
    return fit_for_sms(text, sms_encoding), telegram


def _queue_messages(
    session: Session, pending: list[Any], chats: dict[tuple[str, str, str], _Chat], now: dt.datetime,
    program: str, sms_encoding: str,
) -> None:
    messages: list[dict[str, Any]] = []
    owners: list[int] = []  # the alert of each message (an SMS could be more than one part)
    for alert in pending:
        chat = chats[(alert.person_id, alert.channel, alert.recipient)]
        sms_parts, telegram = _texts(alert.kind, chat.locale, alert.event_date, program, sms_encoding)
        audit = {"person_id": alert.person_id, "record_kind": AUDIT_KIND}
        payloads = ([{"text": part, "audit": audit} for part in sms_parts] if alert.channel == "sms"
                    else [{**telegram, "audit": audit}])
        for payload in payloads:
            messages.append({
                "kind": str(Kind.ALERT), "channel": alert.channel, "recipient": alert.recipient, "payload": payload,
                "priority": int(PRIORITY_OF[Kind.ALERT]), "status": "queued", "attempts": 0,
                "next_attempt_at": now, "created_at": now,
            })
            owners.append(alert.id)
    connection = session.connection()
    ids = connection.execute(
        insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True), messages
    ).scalars().all()
    first: dict[int, int] = {}
    for alert_id, message_id in zip(owners, ids, strict=True):
        first.setdefault(alert_id, message_id)
    connection.execute(
        update(ALERTS).where(ALERTS.c.id == bindparam("alert_id")).values(outbound_message_id=bindparam("message_id")),
        [{"alert_id": a, "message_id": m} for a, m in first.items()],
    )


