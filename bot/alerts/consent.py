"""Consent to alerts, per person and chat, in the caller's transaction.

Turning alerts on stores who, which chat, when, the language and the exact words shown.
Consent is never deleted: withdrawing sets `withdrawn_at` and the reason, and in the same
transaction suppresses the chat's alerts not yet sent (their queued messages too), so nothing
is sent after OFF, STOP, Twilio's 21610 or a Telegram 403.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store.models import Alert, AlertConsent, OutboundMessage


class Withdrawal(StrEnum):
    OFF = "off"  # ALERTS OFF / ALERTES NON
    STOP = "stop"  # SMS STOP (or a synonym)
    UNSUBSCRIBED = "unsubscribed"  # Twilio error 21610 on a send
    BLOCKED = "blocked"  # the Telegram chat blocked the bot (403)


# What `csbot alerts list` says of an alert suppressed because of a withdrawal.
REASON_OF_WITHDRAWAL = {
    Withdrawal.OFF: "opted out", Withdrawal.STOP: "opted out", Withdrawal.UNSUBSCRIBED: "opted out",
    Withdrawal.BLOCKED: "unreachable",
}
NO_CONSENT = "no consent"
PENDING, SUPPRESSED = "pending", "suppressed"


def in_force(session: Session, person_id: str, channel: str, recipient: str) -> AlertConsent | None:
    return session.scalar(
        select(AlertConsent).where(
            AlertConsent.person_id == person_id, AlertConsent.channel == channel,
            AlertConsent.recipient == recipient, AlertConsent.withdrawn_at.is_(None),
        )
    )


def give(
    session: Session, *, person_id: str, channel: str, recipient: str, locale: str, words_shown: str,
    now: dt.datetime,
) -> bool:
    """Record consent; False (nothing recorded) when it is already in force for this chat."""
    if in_force(session, person_id, channel, recipient) is not None:
        return False
    session.add(AlertConsent(
        person_id=person_id, channel=channel, recipient=recipient, locale=locale, words_shown=words_shown,
        given_at=now,
    ))
    session.flush()  # the partial unique index refuses a second consent in force here, not at commit
    return True


def withdraw_chat(
    session: Session, channel: str, recipient: str, reason: Withdrawal, now: dt.datetime,
    person_id: str | None = None,
) -> int:
    """Withdraw the consents in force for this chat (every person's, or one person's), and
    suppress its alerts not yet sent. Returns how many consents were withdrawn."""
    where = [AlertConsent.channel == channel, AlertConsent.recipient == recipient,
             AlertConsent.withdrawn_at.is_(None)]
    if person_id is not None:
        where.append(AlertConsent.person_id == person_id)
    withdrawn = session.connection().execute(  # Core: its result carries the row count
        update(AlertConsent).where(*where).values(withdrawn_at=now, withdrawn_reason=str(reason))
    ).rowcount or 0
    suppress_unsent(session, channel, recipient, REASON_OF_WITHDRAWAL[reason], person_id)
    return withdrawn


def suppress_unsent(
    session: Session, channel: str, recipient: str, reason: str, person_id: str | None = None
) -> None:
    """The chat's pending alerts whose message has not left: suppressed, with their message."""
    unsent = [Alert.channel == channel, Alert.recipient == recipient, Alert.status == PENDING,
              Alert.outbound_message_id.in_(
                  # Not left: waiting, refused, or just suppressed by the sender's claim.
                  select(OutboundMessage.id).where(OutboundMessage.status.in_(("queued", "failed", "suppressed")))
              )]
    if person_id is not None:
        unsent.append(Alert.person_id == person_id)
    message_ids = list(session.scalars(select(Alert.outbound_message_id).where(*unsent)))
    session.execute(
        update(Alert).where(*unsent).values(status=SUPPRESSED, reason=reason)
        .execution_options(synchronize_session=False)
    )
    if message_ids:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_(message_ids), OutboundMessage.status == "queued")
            .values(status="suppressed", last_error=reason)
            .execution_options(synchronize_session=False)
        )
