"""What goes into the outbound queue, and the contract of a channel's sender.

Anything the bot sends outside a webhook answer is one `OutboundMessage` row, written with
`enqueue` in the transaction of the change that caused it (a conversation step, an office
answer, an import's alerts), so a crash loses or doubles nothing. A sender per channel
delivers what the worker claims; the worker owns claiming, leases, ordering, backoff and rates.

Payloads, by channel (JSON, rendered when queued so a sender needs nothing else):
- sms: {"text": str}, one message within two segments (bot/channels/sms/render.py).
- telegram, kind "delete": {"message_id": int, "locale": str}: delete a parent's message that
  held a secret, then say so (bot/channels/base.py secret_note, in `locale`).
- telegram, other kinds: {"text": str, "choices": [[label, word], ...], "document": {"kind",
  "person_id", "record_id", "locale"} or null, "links": [[url, caption, filename], ...],
  "locale": str}.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from bot.store.models import OutboundMessage


class Kind(StrEnum):
    DELETE = "delete"  # remove a parent's message that held a secret
    REPLY = "reply"  # the answer to what a parent just sent
    NOTICE = "notice"  # an office answered
    ALERT = "alert"  # an opt-in alert


class Priority(IntEnum):
    """Lower goes first: a secret left in a chat, then replies, then what the bot says first."""

    DELETE = 0
    REPLY = 1
    NOTICE = 2
    ALERT = 3


PRIORITY_OF = {Kind.DELETE: Priority.DELETE, Kind.REPLY: Priority.REPLY, Kind.NOTICE: Priority.NOTICE,
               Kind.ALERT: Priority.ALERT}


_INSERT = insert(cast(Table, OutboundMessage.__table__)).returning(OutboundMessage.__table__.c.id)


def enqueue(
    session: Session, *, kind: Kind, channel: str, recipient: str, payload: dict[str, Any], now: dt.datetime
) -> int:
    """Queue one message in the session's transaction (the caller commits); its id.

    Plain Core on the session's connection: it runs for every reply of every step, and the
    ORM's unit of work cost more than the insert (measured: a fifth of a Telegram step)."""
    return int(session.connection().execute(_INSERT, {
        "kind": str(kind), "channel": channel, "recipient": recipient, "payload": payload,
        "priority": int(PRIORITY_OF[kind]), "status": "queued", "attempts": 0, "next_attempt_at": now,
        "created_at": now,
    }).scalar_one())


@dataclass(frozen=True)
class Claimed:
    """A message the worker holds under its lease: what a sender needs, detached from the session."""

    id: int
    kind: Kind
    channel: str
    recipient: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Sent:
    provider_id: str | None = None  # Twilio's MessageSid, Telegram's message id


@dataclass(frozen=True)
class TryAgain:
    """A transient failure (network, 5xx, 429): retry, no sooner than `after` when given."""

    error: str
    after: dt.timedelta | None = None


@dataclass(frozen=True)
class Refused:
    """A definite refusal: never retried. `unreachable` when the recipient cannot be reached
    at all (Twilio 21610: the number opted out; Telegram 403: the chat blocked the bot)."""

    error: str
    unreachable: bool = False


Outcome = Sent | TryAgain | Refused


class Sender(Protocol):
    """One channel's delivery. Rates are the sender's own (it knows its API's limits)."""

    channel: str

    async def send(self, message: Claimed) -> Outcome: ...

    async def close(self) -> None: ...


class Doorbell:
    """Wakes the sender at once when something was queued in this process (the webhook rings
    it after its commit), instead of waiting for the next poll. Ringing before the loop
    listens, or from a worker thread, is safe."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen(self) -> asyncio.Event:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        return self._event

    def ring(self) -> None:
        event, loop = self._event, self._loop
        if event is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)
