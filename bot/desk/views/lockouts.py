"""Parents' accounts locked after wrong PINs, in the staff's offices, and unlocking one."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.desk.access import field, form_of, now, runtime_of, staff_page
from bot.desk.audit import Action, record
from bot.desk.auth import Staff
from bot.desk.render import page, sentence
from bot.errors import RequestRefused
from bot.services.staff_work import active_locks, unlock


@staff_page()
async def lockout_list(request: Request, staff: Staff) -> Response:
    return await _list_page(request, staff)


async def _list_page(request: Request, staff: Staff, *, status: int = 200, error: str | None = None) -> Response:
    rows = await run_in_threadpool(active_locks, runtime_of(request), staff.offices)
    return page(request, "lockouts.html", status=status, title="Lockouts", rows=rows, error=error)


@staff_page()
async def unlock_person(request: Request, staff: Staff) -> Response:
    person_id = field(form_of(request), "person_id").strip()[:32]
    moment = now(request)

    def audit(db: Session) -> None:
        record(db, staff.username, Action.UNLOCK, moment, person_id=person_id)

    try:
        await run_in_threadpool(lambda: unlock(runtime_of(request), person_id, staff.offices, also=audit))
    except RequestRefused as refused:
        return await _list_page(request, staff, status=400, error=sentence(str(refused)))
    request.session["flash"] = f"Unlocked {person_id}: the parent can sign in with their PIN again."
    return RedirectResponse("/staff/lockouts", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/staff/lockouts", lockout_list, methods=["GET"]),
        Route("/staff/lockouts/unlock", unlock_person, methods=["POST"]),
    ]
