"""What one dialog step works with: the conversation's state, the services, the words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from dialogs.ports import AccountServices, AlertConsent, ChatRef
from dialogs.replies import Choice, DocumentRef, Link, Reply


class State(StrEnum):
    """Named dialog states, persisted by name in the conversation row."""

    IDLE = "idle"
    AWAIT_SSN = "await_ssn"
    AWAIT_PIN = "await_pin"
    OFFICE_CHOOSE_CASE = "office_choose_case"
    OFFICE_COMPOSE = "office_compose"
    OFFICE_CONFIRM = "office_confirm"
    PIN_REQUEST_SSN = "pin_request_ssn"
    PIN_REQUEST_DOB = "pin_request_dob"
    PIN_REQUEST_ZIP = "pin_request_zip"


class Words(Protocol):
    locale: str

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...

    def money(self, amount: Any) -> str: ...

    def date(self, day: dt.date) -> str: ...

    def month(self, year_month: str) -> str: ...

    def day_month(self, day: dt.date) -> str:
        """A short date without the year ('Nov 28' / '28 nov.'), in GSM-7 letters only."""


def reply_locale(chosen: str | None, person_language: str | None, hint: str | None) -> str:
    """The language of a reply (spec/interface.md, Language): the one chosen in this chat,
    else the verified person's, else the channel's hint, else English."""
    return chosen or person_language or hint or "en"


@dataclass
class ConversationState:
    """The persisted part of a conversation, as the dialogs see it."""

    state: State = State.IDLE
    data: dict[str, Any] = field(default_factory=dict)
    chosen_locale: str | None = None
    hint_locale: str | None = None
    person_id: str | None = None
    verified_at: dt.datetime | None = None
    last_activity_at: dt.datetime | None = None


@dataclass(frozen=True)
class ChannelAbilities:
    """What the chat's channel can do; dialogs ask this, never the channel's name."""

    page_size: int  # list lines per reply
    sms_compliance: bool  # carrier opt-out/opt-in words, and the HELP text carriers require
    preview_length: int | None  # how much of a typed office message its preview repeats


@dataclass(frozen=True)
class Policy:
    """Settings that shape the conversation."""

    program_name: str
    remit_to_address: str
    session_idle: dt.timedelta
    channel: ChannelAbilities
    session_absolute: dt.timedelta = dt.timedelta(hours=12)
    register_url: str = "https://my.ny.gov/"
    signin_url: str = "https://newyorkchildsupport.ny.gov/"


class StepResult:
    """Replies collected during a step, plus flags for the channel."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.inbound_was_secret = False
        self.silent = False

    def say(
        self,
        text: str,
        choices: tuple[Choice, ...] | list[Choice] = (),
        document: DocumentRef | None = None,
        links: tuple[Link, ...] = (),
        as_typed: bool = False,
    ) -> None:
        self.replies.append(
            Reply(text=text, choices=tuple(choices), document=document, links=links, as_typed=as_typed)
        )


@dataclass
class DialogContext:
    conversation: ConversationState
    services: AccountServices
    chat: ChatRef
    now: dt.datetime
    policy: Policy
    words_for: Callable[[str], Words]
    alerts: AlertConsent
    result: StepResult = field(default_factory=StepResult)
    person_language: str | None = None
    # The data of the step a word of the interface abandoned: SEND sends the previewed message.
    abandoned: dict[str, Any] = field(default_factory=dict)

    @property
    def locale(self) -> str:
        conv = self.conversation
        return reply_locale(conv.chosen_locale, self.person_language, conv.hint_locale)

    @property
    def t(self) -> Words:
        return self.words_for(self.locale)

    @property
    def verified(self) -> bool:
        conv = self.conversation
        return conv.person_id is not None and not conv.data.get("needs_pin")

    def go(self, state: State, **data: Any) -> None:
        """Move to a state, keeping only the data that outlives steps."""
        kept = {k: v for k, v in self.conversation.data.items() if k in _DURABLE_KEYS}
        kept.update(data)
        self.conversation.state = state
        self.conversation.data = kept


# Data that belongs to the session rather than to one step.
_DURABLE_KEYS = {"needs_pin", "person_lang", "listing", "office_resume"}
