"""One turn of a conversation as a channel sees it: the inbound message it hands the engine,
the outcome it renders, and what each channel can do (as the dialogs are told)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dialogs.context import ChannelAbilities
from dialogs.replies import Reply


class Channel(StrEnum):
    SMS = "sms"
    TELEGRAM = "telegram"


# What each channel can do, as the dialogs see it (the terminal renders as one of these).
ABILITIES: dict[Channel, ChannelAbilities] = {
    # Three list lines keep a page within two segments; the office preview, quoted as typed,
    # fits two Unicode segments (134 characters) with its "You wrote" around it.
    Channel.SMS: ChannelAbilities(page_size=3, sms_compliance=True, preview_length=110),
    Channel.TELEGRAM: ChannelAbilities(page_size=8, sms_compliance=False, preview_length=None),
}


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: Channel
    sender: str  # E.164 number for SMS, chat id for Telegram
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
