"""What one dialog step works with: the conversation's state, the services, the words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from dialogs.ports import AccountServices, ChatRef
from dialogs.replies import Choice, DocumentRef, Reply


class State(StrEnum):
    """Named dialog states, persisted by name in the conversation row."""

    IDLE = "start"
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
class Policy:
    """Settings that shape the conversation."""

    program_name: str
    remit_to_address: str
    session_idle: dt.timedelta
    session_absolute: dt.timedelta = dt.timedelta(hours=12)
    page_size: int = 10  # list lines per reply: SMS uses fewer
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
    ) -> None:
        self.replies.append(Reply(text=text, choices=tuple(choices), document=document))


@dataclass
class DialogContext:
    conversation: ConversationState
    services: AccountServices
    chat: ChatRef
    now: dt.datetime
    policy: Policy
    words_for: Any  # callable(locale) -> Words
    result: StepResult = field(default_factory=StepResult)
    person_language: str | None = None

    @property
    def locale(self) -> str:
        conv = self.conversation
        return conv.chosen_locale or self.person_language or conv.hint_locale or "en"

    @property
    def t(self) -> Words:
        return self.words_for(self.locale)

    @property
    def verified(self) -> bool:
        conv = self.conversation
        return conv.person_id is not None and not conv.data.get("needs_pin")

    @property
    def is_sms(self) -> bool:
        return self.chat.channel == "sms"

    def go(self, state: State, **data: Any) -> None:
        """Move to a state, keeping only the data that outlives steps."""
        kept = {k: v for k, v in self.conversation.data.items() if k in _DURABLE_KEYS}
        kept.update(data)
        self.conversation.state = state
        self.conversation.data = kept


# Data that belongs to the session rather than to one step.
_DURABLE_KEYS = {"needs_pin", "person_lang", "listing", "office_resume"}
