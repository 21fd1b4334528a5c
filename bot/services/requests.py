"""What a parent asks the program for: a message to the office, the PIN notice mailed again,
and (SMS) no more texts."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import bindparam, delete, func, select, update

from bot.services.base import SessionServices
from bot.store.models import Case, OfficeAnswer, OfficeMessage, Person, PinRequest, SmsOptOut
from dialogs.ports import ChatRef, OfficeAnswerView, OfficeMessageView, Role

PIN_REQUEST_BLOCK = dt.timedelta(days=30)
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the phone
_OPTED_OUT = select(SmsOptOut.phone).where(SmsOptOut.phone == bindparam("phone"))


def new_reference() -> str:
    return "OM-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


class RequestServices(SessionServices):
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

    def office_answers(self, person_id: str, limit: int) -> list[OfficeAnswerView]:
        rows = self._session.execute(
            select(OfficeAnswer, OfficeMessage.reference)
            .join(OfficeMessage, OfficeMessage.id == OfficeAnswer.message_id)
            .where(OfficeMessage.person_id == person_id)
            .order_by(OfficeAnswer.received_at.desc(), OfficeAnswer.id.desc())
            .limit(limit)
        ).all()
        return [
            OfficeAnswerView(answer.id, reference, answer.received_at, answer.body, answer.read_at is not None)
            for answer, reference in rows
        ]

    def mark_office_answers_read(self, answer_ids: list[int]) -> None:
        if not answer_ids:
            return
        self._session.execute(
            update(OfficeAnswer)
            .where(OfficeAnswer.id.in_(answer_ids), OfficeAnswer.read_at.is_(None))
            .values(read_at=self._now)
        )
        message_ids = self._session.scalars(
            select(OfficeAnswer.message_id).where(OfficeAnswer.id.in_(answer_ids)).distinct()
        ).all()
        unread = (
            select(OfficeAnswer.id)
            .where(OfficeAnswer.message_id == OfficeMessage.id, OfficeAnswer.read_at.is_(None))
            .exists()
        )
        self._session.execute(
            update(OfficeMessage)
            .where(OfficeMessage.id.in_(message_ids), OfficeMessage.status == "answered", ~unread)
            .values(status="read")
        )

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

    def opted_out(self, phone: str) -> bool:
        return self._session.scalar(_OPTED_OUT, {"phone": phone}) is not None

    def set_opted_out(self, phone: str, opted_out: bool) -> None:
        if opted_out:
            if self._session.get(SmsOptOut, phone) is None:
                self._session.add(SmsOptOut(phone=phone, opted_out_at=self._now))
        else:
            self._session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))
