"""What staff do with the work the bot queues: PIN re-mail requests, office messages, account
locks, and the audit trail. The command line and any other staff tool share these.

Operations on several records by id are all-or-nothing: if any id is unknown or in the wrong
state, nothing changes and `RequestRefused` names every bad id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import select

from bot.errors import RequestRefused
from bot.runtime import Runtime
from bot.store.models import AccountLock, AuditRecord, OfficeMessage, Person, PinRequest


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str:
    """ISO 8601 UTC to the second, or '-'."""
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def full_name(person: Person | None) -> str:
    return f"{person.first_name} {person.last_name}" if person else "-"


def _refuse_unless_all_fit(wanted: Sequence[int], problem_of: Callable[[int], str | None]) -> None:
    problems = [problem for item in wanted if (problem := problem_of(item)) is not None]
    if problems:
        raise RequestRefused("nothing was changed: " + "; ".join(problems))


# --- PIN re-mail requests ------------------------------------------------------------------


def open_pin_requests(runtime: Runtime) -> list[tuple[PinRequest, Person | None]]:
    with runtime.sessions() as session:
        query = (
            select(PinRequest, Person)
            .outerjoin(Person, Person.id == PinRequest.person_id)
            .where(PinRequest.status == "open")
            .order_by(PinRequest.requested_at, PinRequest.id)
        )
        return [(request, person) for request, person in session.execute(query)]


def mark_pin_requests_mailed(runtime: Runtime, ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    with runtime.sessions.begin() as session:
        found = {r.id: r for r in session.scalars(select(PinRequest).where(PinRequest.id.in_(wanted)))}

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
    return wanted


# --- office messages ------------------------------------------------------------------------


def office_messages(runtime: Runtime, *, include_sent: bool) -> list[OfficeMessage]:
    with runtime.sessions() as session:
        query = select(OfficeMessage).order_by(OfficeMessage.created_at, OfficeMessage.id)
        if not include_sent:
            query = query.where(OfficeMessage.status.in_(("queued", "sending", "failed")))
        return list(session.scalars(query))


def retry_office_messages(runtime: Runtime, ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    with runtime.sessions.begin() as session:
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


def active_locks(runtime: Runtime) -> list[tuple[AccountLock, Person | None]]:
    with runtime.sessions() as session:
        query = (
            select(AccountLock, Person)
            .outerjoin(Person, Person.id == AccountLock.person_id)
            .where(AccountLock.locked_until > utcnow())
            .order_by(AccountLock.locked_until)
        )
        return [(lock, person) for lock, person in session.execute(query)]


def unlock(runtime: Runtime, person_id: str) -> None:
    now = utcnow()
    with runtime.sessions.begin() as session:
        if session.get(Person, person_id) is None:
            raise RequestRefused(f"no person with id {person_id!r}")
        lock = session.get(AccountLock, person_id)
        if lock is None or lock.locked_until is None or lock.locked_until <= now:
            raise RequestRefused(f"person {person_id!r} is not locked")
        lock.locked_until = None
        lock.consecutive_failures = 0


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
