"""StoreAccountServices: dialogs/ports.AccountServices over one SQLAlchemy session.

One instance serves one inbound message inside the engine's transaction; it never commits.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from bot.hashing import UNKNOWN_PERSON_ID, KeyedHasher
from bot.store.models import (
    AccountLock,
    AuditRecord,
    Case,
    Coupon,
    Disbursement,
    Notice,
    Office,
    OfficeMessage,
    Payment,
    Person,
    PinRequest,
    SmsOptOut,
    Statement,
    VerificationFailure,
)
from dialogs.ports import (
    CaseView,
    ChatRef,
    CouponView,
    DisbursementView,
    NoticeView,
    OfficeMessageView,
    Page,
    PaymentView,
    PersonView,
    Role,
    StatementView,
    VerifyResult,
    VerifyStatus,
)

MAX_CONSECUTIVE_PIN_FAILURES = 5
ACCOUNT_LOCK = dt.timedelta(minutes=30)
CHAT_FAILURE_LIMIT = 10
CHAT_FAILURE_WINDOW = dt.timedelta(hours=1)
CHAT_THROTTLE = dt.timedelta(hours=1)
PIN_REQUEST_BLOCK = dt.timedelta(days=30)
# The lock lookup for an unknown SSN (the same query as for a known one): longer than any
# person id (1-32 characters), so it matches no row, and plain text, which PostgreSQL accepts
# where it refuses UNKNOWN_PERSON_ID's NUL.
_NO_LOCK_ROW = "?" * 33
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the phone

# Statements that run on (nearly) every message, built once: building one costs more than
# the database takes to run it (bench/RESULTS.md).
_CASES_OF_PERSON = (
    # Columns, not Case objects: loading ORM entities was the largest cost of this query.
    select(
        Case.case_number, Case.custodial_parent_id, Case.office_code, Case.support_amount,
        Case.support_frequency, Case.arrears_balance, Case.next_due_date,
        Office.name.label("office_name"), Office.phone.label("office_phone"),
    )
    .join(Office, Office.code == Case.office_code)
    .where(
        or_(
            Case.custodial_parent_id == bindparam("person_id"),
            Case.noncustodial_parent_id == bindparam("person_id"),
        )
    )
    .order_by(Case.case_number)
)
_OPTED_OUT = select(SmsOptOut.phone).where(SmsOptOut.phone == bindparam("phone"))
_RECORD_VIEW = insert(AuditRecord.__table__)  # type: ignore[arg-type]


def new_reference() -> str:
    return "OM-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


class StoreAccountServices:
    def __init__(self, session: Session, hasher: KeyedHasher, now: dt.datetime) -> None:
        self._session = session
        self._hasher = hasher
        self._now = now
        # A PIN hash no real person can have: the unknown-SSN path compares against it, so
        # both paths do the same hashing and comparing work.
        self._decoy_pin_hash = hasher.pin(UNKNOWN_PERSON_ID, "decoy")

    # --- verification -------------------------------------------------------------------

    def ssn_token(self, ssn_digits: str) -> str:
        return self._hasher.ssn(ssn_digits).hex()

    def chat_throttled(self, chat: ChatRef) -> bool:
        """Refused for an hour after the failure that made 10 within an hour."""
        s = self._session
        chat_filter = and_(
            VerificationFailure.channel == chat.channel, VerificationFailure.sender == chat.sender
        )
        latest = s.scalar(select(func.max(VerificationFailure.at)).where(chat_filter))
        if latest is None:
            return False
        latest = _aware(latest)
        if latest <= self._now - CHAT_THROTTLE:
            return False
        recent = s.scalar(
            select(func.count())
            .select_from(VerificationFailure)
            .where(chat_filter, VerificationFailure.at > latest - CHAT_FAILURE_WINDOW)
        )
        return (recent or 0) >= CHAT_FAILURE_LIMIT

    def verify(self, chat: ChatRef, ssn_token: str, pin: str) -> VerifyResult:
        try:
            ssn_hash = bytes.fromhex(ssn_token)
        except ValueError:
            ssn_hash = b""
        # FOR UPDATE: verifications of one person take turns, so concurrent guesses from many
        # chats cannot all pass the lock check or lose each other's failure counts.
        person = self._session.scalar(
            select(Person).where(Person.ssn_hash == ssn_hash).with_for_update()
        )
        return self._check_pin(chat, person, pin)

    def verify_pin(self, chat: ChatRef, person_id: str, pin: str) -> VerifyResult:
        person = self._session.get(Person, person_id, with_for_update=True)
        return self._check_pin(chat, person, pin)

    def _check_pin(self, chat: ChatRef, person: Person | None, pin: str) -> VerifyResult:
        person_id = person.id if person is not None else UNKNOWN_PERSON_ID
        candidate = self._hasher.pin(person_id, pin)
        expected = person.pin_hash if person is not None else self._decoy_pin_hash
        matches = KeyedHasher.same(candidate, expected)
        lock = self._session.get(AccountLock, person.id if person is not None else _NO_LOCK_ROW)
        locked = lock is not None and lock.locked_until is not None and _aware(lock.locked_until) > self._now
        if person is not None and matches and not locked:
            if lock is not None:
                lock.consecutive_failures = 0
                lock.locked_until = None
            return VerifyResult(VerifyStatus.OK, person.id)
        self._session.add(VerificationFailure(channel=chat.channel, sender=chat.sender, at=self._now))
        if person is not None and not locked:
            if lock is None:
                lock = AccountLock(person_id=person.id, consecutive_failures=0)
                self._session.add(lock)
            lock.consecutive_failures += 1
            if lock.consecutive_failures >= MAX_CONSECUTIVE_PIN_FAILURES:
                lock.locked_until = self._now + ACCOUNT_LOCK
                lock.consecutive_failures = 0
        return VerifyResult(VerifyStatus.FAILED)

    # --- account data ---------------------------------------------------------------------

    def person(self, person_id: str) -> PersonView | None:
        person = self._session.get(Person, person_id)
        if person is None:
            return None
        return PersonView(id=person.id, first_name=person.first_name, language=person.language)

    def cases(self, person_id: str) -> list[CaseView]:
        # Core execution on the session's connection: no ORM entities to load here.
        rows = self._session.connection().execute(_CASES_OF_PERSON, {"person_id": person_id}).all()
        return [
            CaseView(
                case_number=case.case_number,
                role=Role.RECEIVING if case.custodial_parent_id == person_id else Role.PAYING,
                office_code=case.office_code,
                office_name=case.office_name,
                office_phone=case.office_phone,
                support_amount=case.support_amount,
                support_frequency=case.support_frequency,
                arrears_balance=case.arrears_balance,
                next_due_date=case.next_due_date,
            )
            for case in rows
        ]

    def payments(self, case_numbers: list[str], offset: int, limit: int) -> Page[PaymentView]:
        where = Payment.case_number.in_(case_numbers)
        rows = self._session.execute(
            select(Payment.case_number, Payment.date, Payment.amount, Payment.source)
            .where(where)
            .order_by(Payment.date.desc(), Payment.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        total = self._count(Payment, where, offset, limit, len(rows))
        return Page([PaymentView(*row) for row in rows], total)

    def disbursements(
        self, case_numbers: list[str], offset: int, limit: int
    ) -> Page[DisbursementView]:
        where = Disbursement.case_number.in_(case_numbers)
        rows = self._session.execute(
            select(Disbursement.case_number, Disbursement.date, Disbursement.amount, Disbursement.method)
            .where(where)
            .order_by(Disbursement.date.desc(), Disbursement.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        total = self._count(Disbursement, where, offset, limit, len(rows))
        return Page([DisbursementView(*row) for row in rows], total)

    def _count(self, model: type, where: object, offset: int, limit: int, fetched: int) -> int:
        # A short first page is the whole list: skip the COUNT round trip.
        if offset == 0 and fetched < limit:
            return fetched
        return self._session.scalar(select(func.count()).select_from(model).where(where)) or 0

    def next_coupon(self, case_number: str, today: dt.date) -> CouponView | None:
        coupon = self._session.scalar(
            select(Coupon)
            .where(Coupon.case_number == case_number, Coupon.due_date >= today)
            .order_by(Coupon.due_date, Coupon.id)
            .limit(1)
        ) or self._session.scalar(
            select(Coupon)
            .where(Coupon.case_number == case_number)
            .order_by(Coupon.due_date.desc(), Coupon.id.desc())
            .limit(1)
        )
        if coupon is None:
            return None
        return CouponView(coupon.id, coupon.case_number, coupon.due_date, coupon.amount)

    def latest_statement(self, case_number: str) -> StatementView | None:
        st = self._session.scalar(
            select(Statement)
            .where(Statement.case_number == case_number)
            .order_by(Statement.period_end.desc(), Statement.id.desc())
            .limit(1)
        )
        if st is None:
            return None
        return StatementView(
            st.id, st.case_number, st.period_start, st.period_end,
            st.opening_balance, st.support_due, st.payments_received, st.closing_balance,
        )

    def latest_notice(self, case_number: str) -> NoticeView | None:
        notice = self._session.scalar(
            select(Notice)
            .where(Notice.case_number == case_number)
            .order_by(Notice.month.desc(), Notice.id.desc())
            .limit(1)
        )
        if notice is None:
            return None
        return NoticeView(
            notice.id, notice.case_number, notice.month,
            notice.collected, notice.disbursed, notice.balance_owed,
        )

    def record_view(self, person_id: str, chat: ChatRef, record_kind: str) -> None:
        # A plain INSERT: nothing reads the record back in this transaction.
        self._session.connection().execute(
            _RECORD_VIEW,
            {
                "person_id": person_id, "channel": chat.channel, "sender": chat.sender,
                "record_kind": record_kind, "at": self._now,
            },
        )

    # --- work for people --------------------------------------------------------------------

    def queue_office_message(
        self, person_id: str, case_number: str, role: Role, chat: ChatRef, body: str
    ) -> str:
        case = self._session.get(Case, case_number)
        if case is None or person_id not in (case.custodial_parent_id, case.noncustodial_parent_id):
            raise LookupError("case not found for this person")
        reference = new_reference()
        self._session.add(
            OfficeMessage(
                reference=reference, person_id=person_id, case_number=case_number,
                office_code=case.office_code, role=str(role), channel=chat.channel,
                sender=chat.sender, body=body, status="queued", attempts=0,
                next_attempt_at=self._now, created_at=self._now,
            )
        )
        return reference

    def recent_office_messages(self, person_id: str, limit: int) -> list[OfficeMessageView]:
        rows = self._session.scalars(
            select(OfficeMessage)
            .where(OfficeMessage.person_id == person_id)
            .order_by(OfficeMessage.created_at.desc(), OfficeMessage.id.desc())
            .limit(limit)
        ).all()
        return [OfficeMessageView(m.reference, m.case_number, m.status, m.created_at) for m in rows]

    def request_pin_remail(
        self, chat: ChatRef, ssn_token: str, date_of_birth: dt.date, zip_code: str
    ) -> None:
        try:
            ssn_hash = bytes.fromhex(ssn_token)
        except ValueError:
            return
        person = self._session.scalar(select(Person).where(Person.ssn_hash == ssn_hash))
        if person is None:
            return
        if person.date_of_birth != date_of_birth or person.address_zip[:5] != zip_code[:5]:
            return
        open_recent = self._session.scalar(
            select(func.count())
            .select_from(PinRequest)
            .where(
                PinRequest.person_id == person.id,
                PinRequest.status == "open",
                PinRequest.requested_at > self._now - PIN_REQUEST_BLOCK,
            )
        )
        if open_recent:
            return
        self._session.add(
            PinRequest(person_id=person.id, requested_at=self._now, channel=chat.channel, status="open")
        )

    # --- SMS opt-out ----------------------------------------------------------------------------

    def opted_out(self, phone: str) -> bool:
        return self._session.scalar(_OPTED_OUT, {"phone": phone}) is not None

    def set_opted_out(self, phone: str, opted_out: bool) -> None:
        if opted_out:
            if self._session.get(SmsOptOut, phone) is None:
                self._session.add(SmsOptOut(phone=phone, opted_out_at=self._now))
        else:
            self._session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
