"""The outbound queue (table `outbound_messages`): claim, mark, back off, release.

Life of an outbound message:

    queued --claim--> sending --Sent--> sent --(Twilio status callback)--> delivered |
      ^                  |                                                 undelivered | failed
      |                  |--TryAgain, attempts left--> queued (next_attempt_at = backoff or `after`)
      |                  |--TryAgain, no attempts left, or Refused--> failed
      |                  \\--lease expired (worker crashed)--> claimable again
    queued --claim, the number opted out (STOP, 21610) or the chat blocked the bot--> suppressed

Quiet hours (bot/outbound/quiet.py): while they hold, what the bot says first (alerts and
office-answer notices, `HELD_KINDS`) is not claimed and does not hold back a later reply in
its chat; replies and deletes go at once. The held messages go when the quiet hours end.

Claiming takes a small batch in one short transaction, as the office-mail outbox does
(bot/outbox/queue.py): `FOR UPDATE SKIP LOCKED` on PostgreSQL so concurrent workers each get
different rows, SQLite's exclusive BEGIN IMMEDIATE otherwise, and a lease (`claimed_until`).
Lower `priority` first, then `id`. Within one chat (channel, recipient) messages leave strictly
in `id` order: a message is claimable only when no earlier message of its chat is queued or
sending (whatever its priority or backoff), so one chat has at most one message in flight.

At most one duplicate: the message is sent outside any transaction and marked "sent" right
after the API's answer. A worker that dies between the two leaves the row "sending" until its
lease runs out; then another worker sends it again. Twilio's Messages API and Telegram's Bot API
take no idempotency key for a send, so nothing can drop that duplicate; but each crash costs at
most one, since the next worker's send is marked as soon as it is answered.

Every step here is synchronous SQLAlchemy; the worker runs them in threads.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.alerts.consent import Withdrawal, suppress_unsent, withdraw_chat
from bot.outbound.messages import Claimed, Kind
from bot.outbox.queue import ERROR_LIMIT, backoff_ceiling, full_jitter
from bot.runtime import Runtime
from bot.store.dialect import insert_ignoring_conflict, is_sqlite
from bot.store.models import AuditRecord, OutboundMessage, SmsOptOut, UnreachableChat

QUEUED, SENDING, SENT, FAILED, SUPPRESSED = "queued", "sending", "sent", "failed", "suppressed"
WAITING = (QUEUED, SENDING)
DELIVERY_STATUSES = ("delivered", "undelivered", "failed")  # from Twilio's status callback


@dataclass(frozen=True)
class OutboundPolicy:
    """Timing of claims and retries: ten attempts, waits from 5 s doubling up to 30 min (full
    jitter), a lease far longer than one send (bounded by the senders' HTTP timeouts)."""

    batch_size: int = 30
    lease: dt.timedelta = dt.timedelta(minutes=3)
    max_attempts: int = 10
    backoff_base: dt.timedelta = dt.timedelta(seconds=5)
    backoff_cap: dt.timedelta = dt.timedelta(minutes=30)
    poll_interval: float = 2.0  # seconds between looks at the queue when idle and not rung

    def backoff(self, attempts: int, rng: random.Random) -> dt.timedelta:
        return full_jitter(backoff_ceiling(attempts, self.backoff_base, self.backoff_cap), rng)


@dataclass(frozen=True)
class Lease:
    """A claimed message and the fence that proves the claim is still this worker's."""

    message: Claimed
    claimed_until: dt.datetime


# Kinds the bot sends first, held during quiet hours; replies and deletes never are.
HELD_KINDS = (str(Kind.NOTICE), str(Kind.ALERT))
OPTED_OUT, UNREACHABLE = "opted out", "unreachable"  # why a message was suppressed (last_error)


def _claimable(now: dt.datetime, quiet: bool = False) -> ColumnElement[bool]:
    due = or_(
        and_(OutboundMessage.status == QUEUED, OutboundMessage.next_attempt_at <= now),
        and_(OutboundMessage.status == SENDING, OutboundMessage.claimed_until <= now),
    )
    earlier = aliased(OutboundMessage)
    blocking = [
        earlier.channel == OutboundMessage.channel,
        earlier.recipient == OutboundMessage.recipient,
        earlier.id < OutboundMessage.id,
        earlier.status.in_(WAITING),
    ]
    if not quiet:
        return and_(due, ~exists().where(*blocking))
    # A held alert waiting (queued) does not hold back the reply to what the parent just sent.
    blocking.append(or_(earlier.kind.not_in(HELD_KINDS), earlier.status == SENDING))
    return and_(due, OutboundMessage.kind.not_in(HELD_KINDS), ~exists().where(*blocking))


def claim_batch(
    runtime: Runtime, now: dt.datetime, policy: OutboundPolicy, channels: Sequence[str], *, quiet: bool = False,
) -> list[Lease]:
    """Claim up to batch_size due messages of `channels` (those with a sender now); during
    quiet hours (`quiet`), none of HELD_KINDS. Messages to a number that opted out or a chat
    that blocked the bot are marked suppressed instead, with why in last_error."""
    if not channels:
        return []
    query = (
        select(OutboundMessage)
        .where(_claimable(now, quiet), OutboundMessage.channel.in_(list(channels)))
        .order_by(OutboundMessage.priority, OutboundMessage.id)
        .limit(policy.batch_size)
    )
    if not is_sqlite(runtime.db):
        query = query.with_for_update(skip_locked=True, of=OutboundMessage)
    claimed_until = now + policy.lease
    leases: list[Lease] = []
    with runtime.sessions.begin() as session:
        for row in session.scalars(query):
            silenced = _silenced(session, row.channel, row.recipient)
            if silenced:
                row.status, row.claimed_until, row.last_error = SUPPRESSED, None, silenced
                if row.kind == str(Kind.ALERT):
                    suppress_unsent(session, row.channel, row.recipient, silenced)
                continue
            row.status = SENDING
            row.attempts += 1
            row.claimed_until = claimed_until
            message = Claimed(row.id, Kind(row.kind), row.channel, row.recipient, dict(row.payload), row.attempts)
            leases.append(Lease(message, claimed_until))
    return leases


def _silenced(session: Session, channel: str, recipient: str) -> str | None:
    """Why nothing may be sent to this chat now, or None."""
    if channel == "sms" and session.get(SmsOptOut, recipient) is not None:
        return OPTED_OUT
    return UNREACHABLE if session.get(UnreachableChat, (channel, recipient)) is not None else None


def _still_claimed(lease: Lease) -> ColumnElement[bool]:
    """The fence: still sending under this claim (no other worker took it over)."""
    return and_(
        OutboundMessage.id == lease.message.id,
        OutboundMessage.status == SENDING,
        OutboundMessage.attempts == lease.message.attempts,
    )


def mark_sent(runtime: Runtime, lease: Lease, now: dt.datetime, provider_id: str | None) -> None:
    """Sent. A message whose payload names an audit record (an alert: {"person_id",
    "record_kind"}) writes it now, in the same transaction, as an account view does."""
    message = lease.message
    # No attempts fence: the message did go out, whoever holds the claim now.
    with runtime.sessions.begin() as session:
        marked = session.connection().execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message.id, OutboundMessage.status == SENDING)
            .values(status=SENT, sent_at=now, claimed_until=None, last_error=None,
                    provider_id=(provider_id or None) and provider_id[:64])
        ).rowcount
        audit = message.payload.get("audit")
        if marked and isinstance(audit, dict) and audit.get("person_id"):
            session.add(AuditRecord(person_id=str(audit["person_id"])[:32], channel=message.channel,
                                    sender=message.recipient, record_kind=str(audit.get("record_kind", "message"))[:24],
                                    at=now))


def mark_retry(
    runtime: Runtime, lease: Lease, now: dt.datetime, error: str, after: dt.timedelta | None,
    *, policy: OutboundPolicy, rng: random.Random,
) -> str:
    """A transient failure: queued again after `after` (the API's Retry-After) or the backoff,
    whichever is longer; failed once the attempts are spent. Returns the status."""
    if lease.message.attempts >= policy.max_attempts:
        return mark_refused(runtime, lease, error)
    wait = policy.backoff(lease.message.attempts, rng)
    if after is not None:
        wait = max(wait, after)
    with runtime.sessions.begin() as session:
        session.execute(
            update(OutboundMessage).where(_still_claimed(lease)).values(
                status=QUEUED, next_attempt_at=now + wait, claimed_until=None, last_error=error[:ERROR_LIMIT]
            )
        )
    return QUEUED


def mark_refused(runtime: Runtime, lease: Lease, error: str, *, unreachable_at: dt.datetime | None = None) -> str:
    """A definite refusal: failed, never retried. With `unreachable_at`, the recipient is also
    silenced (an SMS number as opted out, a Telegram chat as unreachable)."""
    message = lease.message
    with runtime.sessions.begin() as session:
        session.execute(
            update(OutboundMessage).where(_still_claimed(lease)).values(
                status=FAILED, claimed_until=None, last_error=error[:ERROR_LIMIT]
            )
        )
        if unreachable_at is not None:
            if message.channel == "sms":
                insert_ignoring_conflict(
                    session, SmsOptOut, {"phone": message.recipient, "opted_out_at": unreachable_at}
                )
            else:
                insert_ignoring_conflict(
                    session, UnreachableChat,
                    {"channel": message.channel, "recipient": message.recipient, "marked_at": unreachable_at},
                )
            # The chat cannot be reached: its consent to alerts is withdrawn, with the reason.
            reason = Withdrawal.UNSUBSCRIBED if message.channel == "sms" else Withdrawal.BLOCKED
            withdraw_chat(session, message.channel, message.recipient, reason, unreachable_at)
    return FAILED


def release(runtime: Runtime, leases: Sequence[Lease], now: dt.datetime) -> None:
    """Give back claims never tried (shutdown): no attempt spent, claimable again at once."""
    if not leases:
        return
    with runtime.sessions.begin() as session:
        for lease in leases:
            session.execute(
                update(OutboundMessage).where(_still_claimed(lease)).values(
                    status=QUEUED, attempts=lease.message.attempts - 1, next_attempt_at=now, claimed_until=None
                )
            )


def clear_unreachable(session: Session, channel: str, recipient: str) -> None:
    """A new message from the chat: it can be reached again (in the caller's transaction)."""
    session.execute(
        delete(UnreachableChat).where(UnreachableChat.channel == channel, UnreachableChat.recipient == recipient)
    )


def record_delivery_status(session: Session, provider_id: str, status: str) -> bool:
    """Twilio's final word on a sent SMS (delivered, undelivered, failed). False when no sent
    message has that SID."""
    if status not in DELIVERY_STATUSES:
        return session.scalar(
            select(func.count()).select_from(OutboundMessage).where(OutboundMessage.provider_id == provider_id)
        ) != 0
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.channel == "sms", OutboundMessage.provider_id == provider_id,
               OutboundMessage.status.in_((SENT, *DELIVERY_STATUSES)))
        .values(status=status)
    )
    return bool(getattr(result, "rowcount", 0))


def count_waiting(session: Session) -> dict[str, int]:
    """Queued or sending messages per channel."""
    rows = session.execute(
        select(OutboundMessage.channel, func.count()).where(OutboundMessage.status.in_(WAITING))
        .group_by(OutboundMessage.channel)
    )
    return {channel: count for channel, count in rows}
