"""The audit trail by person id, for supervisors: parents' views and staff actions alike. Each
search is itself recorded."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.desk.access import now, runtime_of, staff_page
from bot.desk.audit import Action, record
from bot.desk.auth import Staff
from bot.desk.render import page
from bot.services.staff_work import audit_records
from bot.store.models import AuditRecord

LIMIT = 200


@staff_page(supervisor=True)
async def audit_search(request: Request, staff: Staff) -> Response:
    person_id = request.query_params.get("person", "").strip()[:32]
    moment = now(request)

    def search() -> list[AuditRecord]:
        runtime = runtime_of(request)
        found = audit_records(runtime, person_id=person_id, since=None, limit=LIMIT)
        with runtime.write() as db:
            record(db, staff.username, Action.AUDIT_SEARCH, moment, person_id=person_id,
                   detail=f"{len(found)} records")
        return found

    records = await run_in_threadpool(search) if person_id else None
    return page(request, "audit.html", title="Audit trail", person_id=person_id, records=records, limit=LIMIT)


def routes() -> list[Route]:
    return [Route("/staff/audit", audit_search, methods=["GET"])]
