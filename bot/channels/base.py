"""What every channel shares: the inbound message it hands the engine and the outcome it renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dialogs.replies import Reply


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
