"""GET /staff/healthz: 200 once the database answers, 503 otherwise (for the desk's own
monitoring; it says nothing else)."""

from __future__ import annotations

import logging

import anyio
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.desk.access import runtime_of
from bot.runtime import Runtime

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 5


def _ask(runtime: Runtime) -> None:
    with runtime.db.connect() as conn:
        conn.execute(text("SELECT 1"))


async def healthz(request: Request) -> Response:
    with anyio.move_on_after(TIMEOUT_SECONDS):
        try:
            await anyio.to_thread.run_sync(_ask, runtime_of(request), abandon_on_cancel=True)
            return JSONResponse({"status": "ok"})
        except Exception as exc:  # any failure to answer means "unavailable"
            log.warning("desk health check: database unavailable (%s)", type(exc).__name__)
    return JSONResponse({"status": "unavailable"}, status_code=503)


def routes() -> list[Route]:
    return [Route("/staff/healthz", healthz, methods=["GET"])]
