"""What `csbot alerts list` shows: each alert with its status and why, never its text.

An alert's status is read together with its queued message: pending (queued or being sent;
"quiet hours" when they hold now, "retrying" after a failed try), sent (the message left), or
suppressed with the reason: no consent, opted out (ALERTS OFF, STOP, Twilio 21610),
unreachable (a Telegram chat that blocked the bot), refused (the API refused the message).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from bot.alerts.consent import PENDING, SUPPRESSED
from bot.outbound.queue import OPTED_OUT, UNREACHABLE
from bot.outbound.quiet import QuietHours
from bot.store.models import Alert, OutboundMessage

SENT = "sent"
STATUSES = (PENDING, SENT, SUPPRESSED)
_LEFT = ("sent", "delivered", "undelivered")
_WAITING = ("queued", "sending")


@dataclass(frozen=True)
class AlertLine:
    id: int
    kind: str
    event_date: dt.date
    channel: str
    recipient: str
    status: str
    reason: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


def _where(status: str) -> ColumnElement[bool]:
    if status == SENT:
        return and_(Alert.status == PENDING, OutboundMessage.status.in_(_LEFT))
    if status == PENDING:
        return and_(Alert.status == PENDING, OutboundMessage.status.in_(_WAITING))
    return or_(Alert.status == SUPPRESSED, OutboundMessage.status.in_(("suppressed", "failed")))


def alert_lines(
    session: Session, status: str | None, now: dt.datetime, quiet: QuietHours | None, limit: int
) -> list[AlertLine]:
    query = (
        select(Alert.id, Alert.kind, Alert.event_date, Alert.channel, Alert.recipient, Alert.status,
               Alert.reason, Alert.created_at, OutboundMessage.status.label("message_status"),
               OutboundMessage.last_error, OutboundMessage.sent_at)
        .outerjoin(OutboundMessage, OutboundMessage.id == Alert.outbound_message_id)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(_where(status))
    quiet_now = quiet is not None and quiet.holds(now)
    lines = []
    for row in session.execute(query):
        shown, reason = _status(row.status, row.reason, row.message_status, row.last_error, quiet_now)
        lines.append(AlertLine(row.id, row.kind, row.event_date, row.channel, row.recipient, shown, reason,
                               row.created_at, row.sent_at if shown == SENT else None))
    return lines


def _status(status: str, reason: str | None, message_status: str | None, last_error: str | None,
            quiet_now: bool) -> tuple[str, str]:
    if status == SUPPRESSED:
        return SUPPRESSED, reason or ""
    if message_status in _LEFT:
        return SENT, "" if message_status == "sent" else message_status or ""
    if message_status == "suppressed":
        return SUPPRESSED, last_error if last_error in (OPTED_OUT, UNREACHABLE) else "opted out"
    if message_status == "failed":
        return SUPPRESSED, "refused"
    if quiet_now:
        return PENDING, "quiet hours"
    return PENDING, "retrying" if last_error else ""
