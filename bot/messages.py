"""The channel-neutral messages that pass between channels and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    TELEGRAM = "telegram"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: Channel
    sender: str  # E.164 number for SMS, chat id for Telegram, a name for the console
    text: str
    delivery_id: str | None = None  # MessageSid / update_id; None means "never a repeat"
    locale_hint: str | None = None  # e.g. Telegram's language_code


@dataclass(frozen=True, slots=True)
class Choice:
    """One option a parent can pick: `word` is what the engine understands when it comes back."""

    label: str
    word: str


class DocumentKind(StrEnum):
    PAYMENT_HISTORY = "payment_history"
    STATEMENT = "statement"
    COUPON = "coupon"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A printable document the reply offers; the channel renders it (Telegram: a PDF upload,
    SMS: a signed link). `record_id` names the statement, coupon or notice; for payment
    history it is the case number."""

    kind: DocumentKind
    person_id: str
    record_id: str
    locale: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    document: DocumentRef | None = None


@dataclass(slots=True)
class Outcome:
    """What the engine returns for one inbound message."""

    replies: list[Reply] = field(default_factory=list)
    locale: str = "en"
    # The inbound message carried a secret (SSN, PIN): Telegram deletes it from the chat.
    inbound_was_secret: bool = False
    # A repeated delivery id: acknowledged, nothing done, nothing to send.
    duplicate: bool = False
    # SMS opt-out in force: send nothing at all.
    silent: bool = False
