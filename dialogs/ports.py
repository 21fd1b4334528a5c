"""The narrow interface dialogs use to reach account data, and the plain views it returns.

Implemented over the store by bot.services.accounts.StoreAccountServices; a test can pass
any object with these methods.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Role(StrEnum):
    RECEIVING = "receiving"  # custodial parent
    PAYING = "paying"  # noncustodial parent


class VerifyStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"  # unknown SSN, wrong PIN and locked account all look the same
    THROTTLED = "throttled"  # this chat failed too often in the last hour


@dataclass(frozen=True, slots=True)
class VerifyResult:
    status: VerifyStatus
    person_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRef:
    channel: str
    sender: str


@dataclass(frozen=True, slots=True)
class PersonView:
    id: str
    first_name: str
    language: str


@dataclass(frozen=True, slots=True)
class CaseView:
    case_number: str
    role: Role
    office_code: str
    office_name: str
    office_phone: str
    support_amount: Decimal
    support_frequency: str  # weekly | biweekly | semimonthly | monthly
    arrears_balance: Decimal
    next_due_date: dt.date | None


@dataclass(frozen=True, slots=True)
class PaymentView:
    case_number: str
    date: dt.date
    amount: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class DisbursementView:
    case_number: str
    date: dt.date
    amount: Decimal
    method: str


@dataclass(frozen=True, slots=True)
class CouponView:
    id: str
    case_number: str
    due_date: dt.date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class StatementView:
    id: str
    case_number: str
    period_start: dt.date
    period_end: dt.date
    opening_balance: Decimal
    support_due: Decimal
    payments_received: Decimal
    closing_balance: Decimal


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: str
    case_number: str
    month: str  # YYYY-MM
    collected: Decimal
    disbursed: Decimal
    balance_owed: Decimal


@dataclass(frozen=True, slots=True)
class OfficeMessageView:
    reference: str
    case_number: str
    status: str  # queued | sending | mailed | answered | read | failed
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OfficeAnswerView:
    id: int
    reference: str  # of the parent's message it answers
    answered_at: dt.datetime
    text: str
    read: bool


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int


class AccountServices(Protocol):
    # --- verification ------------------------------------------------------------------
    def ssn_token(self, ssn_digits: str) -> str:
        """An opaque keyed token standing for the SSN between the SSN and PIN steps."""

    def chat_throttled(self, chat: ChatRef) -> bool: ...

    def verify(self, chat: ChatRef, ssn_token: str, pin: str) -> VerifyResult:
        """Check the PIN for the SSN; record failures, lock after 5 in a row."""

    def verify_pin(self, chat: ChatRef, person_id: str, pin: str) -> VerifyResult:
        """Re-verification of a known person after an idle timeout: the PIN only."""

    def is_own_pin(self, person_id: str, digits: str) -> bool:
        """Whether five digits are this person's PIN (a keyed-hash comparison); not an attempt:
        nothing is counted, so a message cannot be used to guess."""

    # --- account data ------------------------------------------------------------------
    def person(self, person_id: str) -> PersonView | None: ...

    def cases(self, person_id: str) -> list[CaseView]:
        """Every case of the person, in both roles, ordered by case number."""

    def payments(self, case_numbers: list[str], offset: int, limit: int) -> Page[PaymentView]:
        """Payments on these cases, newest first."""

    def disbursements(
        self, case_numbers: list[str], offset: int, limit: int
    ) -> Page[DisbursementView]:
        """Disbursements on these cases, newest first."""

    def next_coupon(self, case_number: str, today: dt.date) -> CouponView | None:
        """The earliest coupon due today or later, else the latest one."""

    def latest_statement(self, case_number: str) -> StatementView | None: ...

    def latest_notice(self, case_number: str) -> NoticeView | None: ...

    def record_view(self, person_id: str, chat: ChatRef, record_kind: str) -> None:
        """Audit: who viewed which kind of record through which chat (never the data)."""

    # --- work for people -----------------------------------------------------------------
    def queue_office_message(
        self, person_id: str, case_number: str, role: Role, chat: ChatRef, body: str
    ) -> str:
        """Queue a message for the case's office in the outbox; return its reference."""

    def recent_office_messages(self, person_id: str, limit: int) -> list[OfficeMessageView]: ...

    def office_answers(self, person_id: str, limit: int) -> list[OfficeAnswerView]:
        """The offices' answers to this person's messages, newest first."""

    def mark_office_answers_read(self, answer_ids: list[int]) -> None:
        """Mark answers read (once); a message whose answers are all read becomes `read`."""

    def request_pin_remail(
        self, chat: ChatRef, ssn_token: str, date_of_birth: dt.date, zip_code: str
    ) -> None:
        """Record a re-mail request when the details match a person with no open request in
        the last 30 days; otherwise do nothing. Reveals nothing either way."""

    # --- SMS opt-out ---------------------------------------------------------------------
    def opted_out(self, phone: str) -> bool: ...

    def set_opted_out(self, phone: str, opted_out: bool) -> None: ...


class AlertConsent(Protocol):
    """Consent to alerts for one chat (spec/interface.md, "Alerts (opt-in)"). Implemented over
    the store by bot.services.alerts.StoreAlertConsent, in the step's transaction."""

    def alerts_on(self, person_id: str, chat: ChatRef) -> bool:
        """Whether this person's consent is in force for this chat."""

    def turn_alerts_on(self, person_id: str, chat: ChatRef, locale: str, words_shown: str) -> bool:
        """Record consent with the exact words shown; False when it was already on."""

    def turn_alerts_off(self, chat: ChatRef, reason: str) -> int:
        """Withdraw every consent in force for this chat (`reason`: off | stop), and suppress
        its alerts not yet sent; how many consents were withdrawn."""
