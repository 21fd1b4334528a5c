"""StoreAccountServices: dialogs/ports.AccountServices over one SQLAlchemy session.

One instance serves one inbound message inside the engine's transaction; it never commits.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, func, insert, or_, select

from bot.services.requests import RequestServices
from bot.services.verification import VerificationServices
from bot.store.models import (
    AuditRecord,
    Case,
    Coupon,
    Disbursement,
    Notice,
    Office,
    Payment,
    Person,
    Statement,
)
from dialogs.ports import (
    CaseView,
    ChatRef,
    CouponView,
    DisbursementView,
    NoticeView,
    Page,
    PaymentView,
    PersonView,
    Role,
    StatementView,
)

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
_RECORD_VIEW = insert(cast(Table, AuditRecord.__table__))


class StoreAccountServices(VerificationServices, RequestServices):
    """dialogs.ports.AccountServices over one session: the account records here, verification
    and requests from their own modules."""

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

    def _count(
        self, model: type[Payment | Disbursement], where: ColumnElement[bool], offset: int, limit: int, fetched: int
    ) -> int:
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

