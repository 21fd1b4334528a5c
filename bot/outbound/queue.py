"""The outbound queue (table `outbound_messages`): claim, mark, back off, release.

Life of an outbound message:

    queued --claim--> sending --Sent--> sent --(Twilio status callback)--> delivered |
      ^                  |                                                 undelivered | failed
      |                  |--TryAgain, attempts left--> queued (next_attempt_at = backoff or `after`)
      |                  |--TryAgain, no attempts left, or Refused--> failed
      |                  \\--lease expired (worker crashed)--> claimable again
    queued --claim, the number opted out (STOP, 21610) or the chat blocked the bot--> suppressed

Quiet hours (bot/outbound/quiet.py): while they hold, what the bot says first (alerts and
office-answer notices: priority HELD_FROM and after) is not claimed and does not hold back a
later reply in its chat; replies and deletes go at once. The held messages go when the quiet
hours end.

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
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from bot.alerts.consent import Withdrawal, suppress_unsent, withdraw_chat
from bot.outbound.messages import Claimed, Kind, Priority
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


# What the bot says first (notices, alerts) is held during quiet hours; replies and deletes never
# are. Held by priority, not by kind: the claim's index walk then stops where they begin, instead
# of stepping over every held alert (50,000 after a big import) on each claim of the night.
HELD_FROM = int(Priority.NOTICE)
OPTED_OUT, UNREACHABLE = "opted out", "unreachable"  # why a message was suppressed (last_error)


def _first_of_its_chat(quiet: bool = False) -> ColumnElement[bool]:
    """No earlier message of the same chat is still waiting: one message in flight per chat.
    During quiet hours a held message waiting (queued) does not hold back a later reply."""
    earlier = aliased(OutboundMessage)
    blocking = [
        earlier.channel == OutboundMessage.channel,
        earlier.recipient == OutboundMessage.recipient,
        earlier.id < OutboundMessage.id,
        earlier.status.in_(WAITING),
    ]
    if quiet:
        blocking.append(or_(earlier.priority < HELD_FROM, earlier.status == SENDING))
    return ~exists().where(*blocking)


def claim_query(status: str, now: dt.datetime, channels: Sequence[str], limit: int, quiet: bool = False) -> Select[Any]:
    """The next `limit` claimable messages of one status: SENDING ones whose lease ran out,
    or QUEUED ones that are due; each the first waiting message of its chat. During quiet
    hours (`quiet`), nothing from HELD_FROM on."""
    due = OutboundMessage.claimed_until <= now if status == SENDING else OutboundMessage.next_attempt_at <= now
    query = (
        select(OutboundMessage.id, OutboundMessage.kind, OutboundMessage.channel,
               OutboundMessage.recipient, OutboundMessage.payload, OutboundMessage.attempts)
        .where(OutboundMessage.status == status, due, _first_of_its_chat(quiet),
               OutboundMessage.channel.in_(list(channels)))
        .order_by(OutboundMessage.priority, OutboundMessage.id)
        .limit(limit)
    )
    return query.where(OutboundMessage.priority < HELD_FROM) if quiet else query


def claim_batch(
    runtime: Runtime, now: dt.datetime, policy: OutboundPolicy, channels: Sequence[str], *, quiet: bool = False,
) -> list[Lease]:
    """Claim up to batch_size due messages of `channels` (those with a sender now); during
    quiet hours (`quiet`), nothing from HELD_FROM on. Messages to a number that opted out or a chat
    that blocked the bot are marked suppressed instead, with why in last_error (and the
    alerts among them too).

    Two walks, each down ix_outbound_messages_claim_order (status, priority, id) that stops at
    the batch size: sends whose lease ran out (a worker died; rare), then queued messages.
    One query with an OR of the two would filter and sort the whole backlog on every claim,
    inside the write transaction (measured: 15 ms with 3,000 queued, every webhook waiting)."""
    if not channels:
        return []
    claimed_until = now + policy.lease
    # Built before the write turn: building a statement costs as much as running it here.
    queries = [claim_query(status, now, channels, policy.batch_size, quiet) for status in (SENDING, QUEUED)]
    if not is_sqlite(runtime.db):
        queries = [query.with_for_update(skip_locked=True, of=OutboundMessage) for query in queries]
    leases: list[Lease] = []
    with runtime.write() as session:
        for query in queries:
            room = policy.batch_size - len(leases)
            if room <= 0:
                break
            rows = session.execute(query).all()[:room]
            silenced = _silenced(session, {(row.channel, row.recipient) for row in rows})
            claimed = [row for row in rows if (row.channel, row.recipient) not in silenced]
            # One statement each for the batch: per-row ORM updates cost ~0.1 ms apiece here.
            for reason in set(silenced.values()):
                _set(session, [row.id for row in rows if silenced.get((row.channel, row.recipient)) == reason],
                     status=SUPPRESSED, claimed_until=None, last_error=reason)
            for chat in {(row.channel, row.recipient) for row in rows if row.kind == str(Kind.ALERT)} & set(silenced):
                suppress_unsent(session, *chat, silenced[chat])
            _set(session, [row.id for row in claimed], status=SENDING, attempts=OutboundMessage.attempts + 1,
                 claimed_until=claimed_until)
            leases.extend(
                Lease(Claimed(row.id, Kind(row.kind), row.channel, row.recipient, dict(row.payload), row.attempts + 1),
                      claimed_until)
                for row in claimed
            )
    return leases


def _set(session: Session, ids: list[int], **values: object) -> None:
    if ids:
        session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(**values))


def _silenced(session: Session, chats: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Which of `chats` (channel, recipient) opted out (SMS) or blocked the bot, and which of
    the two: two queries for the whole batch, not two per message."""
    if not chats:
        return {}
    phones = [recipient for channel, recipient in chats if channel == "sms"]
    silenced = {("sms", phone): OPTED_OUT
                for phone in session.scalars(select(SmsOptOut.phone).where(SmsOptOut.phone.in_(phones)))}
    recipients = {recipient for _channel, recipient in chats}
    unreachable = session.execute(
        select(UnreachableChat.channel, UnreachableChat.recipient).where(
            UnreachableChat.channel.in_({channel for channel, _recipient in chats}),
            UnreachableChat.recipient.in_(recipients),
        )
    )
    silenced.update({(channel, recipient): UNREACHABLE for channel, recipient in unreachable
                     if (channel, recipient) in chats})
    return silenced


def _still_claimed(lease: Lease) -> ColumnElement[bool]:
    """The fence: still sending under this claim (no other worker took it over)."""
    return and_(
        OutboundMessage.id == lease.message.id,
        OutboundMessage.status == SENDING,
        OutboundMessage.attempts == lease.message.attempts,
    )


_MESSAGES = cast(Table, OutboundMessage.__table__)
# No attempts fence: the message did go out, whoever holds the claim now. Built once: it runs
# for every message sent, inside the process's write turn.
_MARK_SENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message_id"), _MESSAGES.c.status == SENDING)
    .values(status=SENT, sent_at=bindparam("sent_at"), claimed_until=None, last_error=None,
            provider_id=bindparam("provider_id"))
)


_AUDIT = insert(cast(Table, AuditRecord.__table__))


def mark_sent(runtime: Runtime, lease: Lease, now: dt.datetime, provider_id: str | None) -> None:
    """Sent. A message whose payload names an audit record (an alert: {"person_id",
    "record_kind"}) writes it now, in the same transaction, as an account view does."""
    message = lease.message
    audit = message.payload.get("audit")
    with runtime.write() as session:
        connection = session.connection()
        marked = connection.execute(_MARK_SENT, {
            "message_id": message.id, "sent_at": now, "provider_id": (provider_id or None) and provider_id[:64],
        }).rowcount
        if marked and isinstance(audit, dict) and audit.get("person_id"):
            connection.execute(_AUDIT, {
                "person_id": str(audit["person_id"])[:32], "channel": message.channel, "sender": message.recipient,
                "record_kind": str(audit.get("record_kind", "message"))[:24], "at": now,
            })


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
    with runtime.write() as session:
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
    with runtime.write() as session:
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
    with runtime.write() as session:
        for lease in leases:
            session.execute(
                update(OutboundMessage).where(_still_claimed(lease)).values(
                    status=QUEUED, attempts=lease.message.attempts - 1, next_attempt_at=now, claimed_until=None
                )
            )


_UNREACHABLE = cast(Table, UnreachableChat.__table__)
_CLEAR_UNREACHABLE = delete(_UNREACHABLE).where(
    _UNREACHABLE.c.channel == bindparam("channel"), _UNREACHABLE.c.recipient == bindparam("recipient")
)


def clear_unreachable(session: Session, channel: str, recipient: str) -> None:
    """A new message from the chat: it can be reached again (in the caller's transaction).
    Runs on every Telegram message, so the statement is built once and run as plain Core
    (building it from ORM attributes each time cost a fifth of the step)."""
    session.connection().execute(_CLEAR_UNREACHABLE, {"channel": channel, "recipient": recipient})


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
