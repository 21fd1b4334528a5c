"""Import runs: when each `csbot import` ran, its extract's date and how many records."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.desk.access import runtime_of, staff_page
from bot.desk.auth import Staff
from bot.desk.render import page
from bot.services.staff_work import import_runs


@staff_page()
async def import_list(request: Request, staff: Staff) -> Response:
    runs = await run_in_threadpool(import_runs, runtime_of(request))
    return page(request, "imports.html", title="Import runs", runs=runs)


def routes() -> list[Route]:
    return [Route("/staff/imports", import_list, methods=["GET"])]
