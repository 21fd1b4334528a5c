"""PIN re-mail requests of the staff's offices: the list, the CSV for the mailing unit (the
same columns as `csbot pin-requests export`), and marking requests mailed."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.desk.access import form_of, now, runtime_of, staff_page
from bot.desk.audit import Action, record
from bot.desk.auth import Staff
from bot.desk.render import page, sentence
from bot.errors import RequestRefused
from bot.services.staff_work import (
    PIN_EXPORT_COLUMNS,
    mark_pin_requests_mailed,
    open_pin_requests,
    pin_export_rows,
)
from bot.store.models import PinRequest


@staff_page()
async def pin_request_list(request: Request, staff: Staff) -> Response:
    return await _list_page(request, staff)


async def _list_page(request: Request, staff: Staff, *, status: int = 200, error: str | None = None) -> Response:
    rows = await run_in_threadpool(open_pin_requests, runtime_of(request), staff.offices)
    return page(request, "pin_requests.html", status=status, title="PIN re-mail requests", rows=rows, error=error)


@staff_page()
async def export(request: Request, staff: Staff) -> Response:
    moment = now(request)

    def build() -> str:
        runtime = runtime_of(request)
        rows = pin_export_rows(open_pin_requests(runtime, staff.offices))
        with runtime.write() as db:
            ids = ",".join(str(row[0]) for row in rows)
            record(db, staff.username, Action.CSV_EXPORT, moment, detail=f"{len(rows)} PIN requests: {ids}")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(PIN_EXPORT_COLUMNS)
        writer.writerows(rows)
        return out.getvalue()

    text = await run_in_threadpool(build)
    name = f"pin-requests-{moment:%Y%m%d-%H%M}.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@staff_page()
async def mark_mailed(request: Request, staff: Staff) -> Response:
    chosen = form_of(request).getlist("request")
    try:
        ids = [int(value) for value in chosen if isinstance(value, str)]
    except ValueError:
        ids = []
    if not ids:
        return await _list_page(request, staff, status=400, error="Select at least one request to mark mailed.")
    moment = now(request)

    def audit(db: Session, requests: list[PinRequest]) -> None:
        for pin_request in requests:
            record(db, staff.username, Action.MARK_MAILED, moment, person_id=pin_request.person_id,
                   detail=f"PIN request {pin_request.id}")

    try:
        marked = await run_in_threadpool(
            lambda: mark_pin_requests_mailed(runtime_of(request), ids, staff.offices, also=audit)
        )
    except RequestRefused as refused:
        return await _list_page(request, staff, status=400, error=sentence(str(refused)))
    count = len(marked)
    request.session["flash"] = f"Marked {count} request{'s' if count != 1 else ''} mailed."
    return RedirectResponse("/staff/pin-requests", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/staff/pin-requests", pin_request_list, methods=["GET"]),
        Route("/staff/pin-requests.csv", export, methods=["GET"]),
        Route("/staff/pin-requests/mark-mailed", mark_mailed, methods=["POST"]),
    ]
