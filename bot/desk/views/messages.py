"""Office messages: the list (by office and status, only the staff's offices), one message with
its whole exchange, and the answer form, which answers exactly as `csbot office-messages reply`
does (bot.services.staff_work.answer_office_message)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.desk.access import field, form_of, now, runtime_of, staff_page
from bot.desk.audit import Action, record
from bot.desk.auth import Staff
from bot.desk.render import page, refusal, sentence
from bot.errors import RequestRefused
from bot.office_answers.record import MAX_ANSWER_LENGTH
from bot.runtime import Runtime
from bot.services.staff_work import answer_office_message, office_exchange, office_messages
from bot.store.models import Office, OfficeMessage

STATUSES = ("queued", "sending", "mailed", "answered", "read", "failed")
AWAITING = "awaiting"  # the filter most clerks want: not answered yet
AWAITING_STATUSES = ("queued", "sending", "mailed", "failed")


def offices_for(runtime: Runtime, staff: Staff) -> list[tuple[str, str]]:
    """(code, name) of the offices this user works for."""
    with runtime.sessions() as db:
        query = select(Office.code, Office.name).order_by(Office.code)
        if staff.offices is not None:
            query = query.where(Office.code.in_(staff.offices))
        return [(code, name) for code, name in db.execute(query)]


@staff_page()
async def message_list(request: Request, staff: Staff) -> Response:
    runtime = runtime_of(request)
    office = request.query_params.get("office", "").strip().upper()
    status = request.query_params.get("status", AWAITING).strip().lower()
    if office and not staff.may_see(office):
        return refusal(request, 403, "Not your office", f"You do not work for office {office[:16]}.")
    if status not in (*STATUSES, AWAITING, "all"):
        status = AWAITING
    offices = [office] if office else staff.offices
    statuses = AWAITING_STATUSES if status == AWAITING else None if status == "all" else (status,)

    def load() -> tuple[list[OfficeMessage], list[tuple[str, str]]]:
        rows = office_messages(runtime, include_sent=True, offices=offices, statuses=statuses)
        return rows, offices_for(runtime, staff)

    rows, choices = await run_in_threadpool(load)
    return page(
        request, "messages.html", title="Office messages", messages=rows, offices=choices, office=office,
        chosen=status, statuses=STATUSES, awaiting=AWAITING,
    )


async def _exchange_page(request: Request, staff: Staff, reference: str, *, status: int = 200,
                         error: str | None = None, draft: str = "") -> Response:
    found = await run_in_threadpool(office_exchange, runtime_of(request), reference, staff.offices)
    if found is None:
        return refusal(request, 404, "No such message", "There is no office message with this reference"
                       " in your offices.")
    message, answers = found
    return page(
        request, "message.html", status=status, title=f"Message {message.reference}", message=message,
        answers=answers, error=error, draft=draft, max_length=MAX_ANSWER_LENGTH,
    )


@staff_page()
async def message_detail(request: Request, staff: Staff) -> Response:
    return await _exchange_page(request, staff, request.path_params["reference"])


@staff_page()
async def answer(request: Request, staff: Staff) -> Response:
    reference = request.path_params["reference"]
    text = field(form_of(request), "answer")
    if await run_in_threadpool(office_exchange, runtime_of(request), reference, staff.offices) is None:
        return await _exchange_page(request, staff, reference)  # the 404 page
    moment = now(request)

    def audit(db: Session, message: OfficeMessage) -> None:
        record(db, staff.username, Action.ANSWER, moment, person_id=message.person_id, detail=message.reference)

    try:
        recorded = await run_in_threadpool(
            lambda: answer_office_message(
                runtime_of(request), reference, text, author=f"desk:{staff.username}", offices=staff.offices,
                also=audit,
            )
        )
    except RequestRefused as refused:
        return await _exchange_page(request, staff, reference, status=400, error=sentence(str(refused)),
                                    draft=text[: MAX_ANSWER_LENGTH * 2])
    told = (f"the parent is told by {recorded.notice} (the notice names the reference only)"
            if recorded.notice in ("sms", "telegram") else recorded.notice)
    request.session["flash"] = f"Your answer to {recorded.reference} was recorded; {told}."
    return RedirectResponse(f"/staff/messages/{recorded.reference}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/staff/messages", message_list, methods=["GET"]),
        Route("/staff/messages/{reference}", message_detail, methods=["GET"]),
        Route("/staff/messages/{reference}/answer", answer, methods=["POST"]),
    ]
