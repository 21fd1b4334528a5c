"""What staff do with the work the bot queues: PIN re-mail requests, office messages, account
locks, and the audit trail. The command line and any other staff tool share these.

Operations on several records by id are all-or-nothing: if any id is unknown or in the wrong
state, nothing changes and `RequestRefused` names every bad id.

`offices` limits a query or an operation to the work of those offices (the staff desk's
scoping): an office message by its office, a person (PIN request, lock) by the offices of their
cases. None means every office (the command line, a supervisor). A record outside the offices
is treated as unknown, so its existence is not revealed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.errors import RequestRefused
from bot.office_answers.record import AnswerProblem, Recorded, find_message, record_answer
from bot.runtime import Runtime
from bot.store.models import (
    AccountLock,
    AuditRecord,
    Case,
    ImportRun,
    OfficeAnswer,
    OfficeMessage,
    Person,
    PinRequest,
)

Offices = Collection[str] | None  # None: every office


def iso(moment: dt.datetime | None) -> str:
    """ISO 8601 UTC to the second, or '-'."""
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def full_name(person: Person | None) -> str:
    return f"{person.first_name} {person.last_name}" if person else "-"


def people_of(offices: Collection[str]) -> Select[Any]:
    """The ids of the people with a case at one of these offices (either parent)."""
    return select(Person.id).where(
        select(Case.case_number)
        .where(
            Case.office_code.in_(list(offices)),
            or_(Case.custodial_parent_id == Person.id, Case.noncustodial_parent_id == Person.id),
        )
        .exists()
    )


def _person_in(session: Session, person_id: str, offices: Offices) -> bool:
    if offices is None:
        return session.get(Person, person_id) is not None
    return session.scalar(people_of(offices).where(Person.id == person_id)) is not None


def _refuse_unless_all_fit(wanted: Sequence[int], problem_of: Callable[[int], str | None]) -> None:
    problems = [problem for item in wanted if (problem := problem_of(item)) is not None]
    if problems:
        raise RequestRefused("nothing was changed: " + "; ".join(problems))


# --- PIN re-mail requests ------------------------------------------------------------------


def open_pin_requests(runtime: Runtime, offices: Offices = None) -> list[tuple[PinRequest, Person | None]]:
    with runtime.sessions() as session:
        query = (
            select(PinRequest, Person)
            .outerjoin(Person, Person.id == PinRequest.person_id)
            .where(PinRequest.status == "open")
            .order_by(PinRequest.requested_at, PinRequest.id)
        )
        if offices is not None:
            query = query.where(PinRequest.person_id.in_(people_of(offices)))
        return [(request, person) for request, person in session.execute(query)]


# The CSV a mailing unit loads into its mail-merge: one column per address part.
PIN_EXPORT_COLUMNS = (
    "request_id", "person_id", "name", "address_line1", "address_line2", "city", "state", "zip", "requested_at",
)


def pin_export_rows(rows: Sequence[tuple[PinRequest, Person | None]]) -> list[tuple[object, ...]]:
    """The rows of `csbot pin-requests export` and of the desk's CSV, below PIN_EXPORT_COLUMNS."""
    out: list[tuple[object, ...]] = []
    for request, person in rows:
        address = (
            (person.address_line1, person.address_line2 or "", person.address_city, person.address_state,
             person.address_zip)
            if person
            else ("", "", "", "", "")
        )
        out.append((request.id, request.person_id, full_name(person), *address, iso(request.requested_at)))
    return out


def mark_pin_requests_mailed(
    runtime: Runtime, ids: Sequence[int], offices: Offices = None, *,
    also: Callable[[Session, list[PinRequest]], None] | None = None,
) -> list[int]:
    """`also` runs in the same transaction (the desk records its audit entry there)."""
    wanted = list(dict.fromkeys(ids))
    with runtime.write() as session:
        query = select(PinRequest).where(PinRequest.id.in_(wanted))
        if offices is not None:
            query = query.where(PinRequest.person_id.in_(people_of(offices)))
        found = {r.id: r for r in session.scalars(query)}

        def problem(request_id: int) -> str | None:
            request = found.get(request_id)
            if request is None:
                return f"{request_id}: no such request"
            if request.status != "open":
                return f"{request_id}: already marked mailed at {iso(request.mailed_at)}"
            return None

        _refuse_unless_all_fit(wanted, problem)
        now = utcnow()
        for request in found.values():
            request.status = "mailed"
            request.mailed_at = now
        if also is not None:
            also(session, list(found.values()))
    return wanted


# --- office messages ------------------------------------------------------------------------


UNSENT = ("queued", "sending", "failed")


def office_messages(
    runtime: Runtime, *, include_sent: bool, offices: Offices = None, statuses: Collection[str] | None = None
) -> list[OfficeMessage]:
    """Oldest first; `statuses` narrows further (e.g. the desk's status filter)."""
    with runtime.sessions() as session:
        query = select(OfficeMessage).order_by(OfficeMessage.created_at, OfficeMessage.id)
        if not include_sent:
            query = query.where(OfficeMessage.status.in_(UNSENT))
        if offices is not None:
            query = query.where(OfficeMessage.office_code.in_(list(offices)))
        if statuses is not None:
            query = query.where(OfficeMessage.status.in_(list(statuses)))
        return list(session.scalars(query))


def office_exchange(
    runtime: Runtime, reference: str, offices: Offices = None
) -> tuple[OfficeMessage, list[OfficeAnswer]] | None:
    """One message and its answers (oldest first), or None when unknown or another office's."""
    with runtime.sessions() as session:
        message = find_message(session, reference)
        if message is None or (offices is not None and message.office_code not in offices):
            return None
        answers = session.scalars(
            select(OfficeAnswer)
            .where(OfficeAnswer.message_id == message.id)
            .order_by(OfficeAnswer.received_at, OfficeAnswer.id)
        )
        return message, list(answers)


def answer_office_message(
    runtime: Runtime,
    reference: str,
    text: str,
    *,
    author: str,
    offices: Offices = None,
    also: Callable[[Session, OfficeMessage], None] | None = None,
) -> Recorded:
    """Record staff's answer, mark the message answered and queue the parent's notice, in one
    transaction: `csbot office-messages reply` and the staff desk both answer through here.
    `also` runs in the same transaction (the desk records its audit entry there)."""
    with runtime.write() as session:
        message = find_message(session, reference)
        if message is None or (offices is not None and message.office_code not in offices):
            raise RequestRefused(f"no office message with reference {reference.strip()!r}")
        try:
            recorded = record_answer(
                session, message, text=text, source="staff", author=author, now=utcnow(),
                sms_encoding=runtime.settings.sms_encoding,
            )
        except AnswerProblem as problem:
            raise RequestRefused(f"nothing was recorded: {problem}") from None
        if also is not None:
            also(session, message)
    return recorded


def retry_office_messages(runtime: Runtime, ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    with runtime.write() as session:
        found = {m.id: m for m in session.scalars(select(OfficeMessage).where(OfficeMessage.id.in_(wanted)))}

        def problem(message_id: int) -> str | None:
            message = found.get(message_id)
            if message is None:
                return f"{message_id}: no such message"
            if message.status in ("mailed", "answered", "read"):
                return f"{message_id}: already sent at {iso(message.sent_at)} ({message.status})"
            if message.status == "sending":
                return f"{message_id}: being sent right now"
            return None

        _refuse_unless_all_fit(wanted, problem)
        now = utcnow()
        for message in found.values():
            # A fresh start: due now, a full set of attempts. last_error stays as history
            # until the next attempt replaces or clears it.
            message.status = "queued"
            message.attempts = 0
            message.next_attempt_at = now
            message.claimed_until = None
    return wanted


# --- account locks --------------------------------------------------------------------------


def active_locks(runtime: Runtime, offices: Offices = None) -> list[tuple[AccountLock, Person | None]]:
    with runtime.sessions() as session:
        query = (
            select(AccountLock, Person)
            .outerjoin(Person, Person.id == AccountLock.person_id)
            .where(AccountLock.locked_until > utcnow())
            .order_by(AccountLock.locked_until)
        )
        if offices is not None:
            query = query.where(AccountLock.person_id.in_(people_of(offices)))
        return [(lock, person) for lock, person in session.execute(query)]


def unlock(
    runtime: Runtime, person_id: str, offices: Offices = None, *, also: Callable[[Session], None] | None = None
) -> None:
    """`also` runs in the same transaction (the desk records its audit entry there)."""
    now = utcnow()
    with runtime.write() as session:
        if not _person_in(session, person_id, offices):
            raise RequestRefused(f"no person with id {person_id!r}")
        lock = session.get(AccountLock, person_id)
        if lock is None or lock.locked_until is None or lock.locked_until <= now:
            raise RequestRefused(f"person {person_id!r} is not locked")
        lock.locked_until = None
        lock.consecutive_failures = 0
        if also is not None:
            also(session)


# --- audit ----------------------------------------------------------------------------------


def audit_records(
    runtime: Runtime, *, person_id: str | None, since: dt.datetime | None, limit: int
) -> list[AuditRecord]:
    query = select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit)
    if person_id:
        query = query.where(AuditRecord.person_id == person_id)
    if since:
        query = query.where(AuditRecord.at >= since)
    with runtime.sessions() as session:
        return list(session.scalars(query))


# --- import runs ----------------------------------------------------------------------------


def import_runs(runtime: Runtime, *, limit: int = 50) -> list[ImportRun]:
    """The newest first."""
    with runtime.sessions() as session:
        return list(session.scalars(select(ImportRun).order_by(ImportRun.started_at.desc()).limit(limit)))
