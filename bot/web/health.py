"""GET /healthz: 200 once the database answers, 503 otherwise (for a load balancer)."""

from __future__ import annotations

import logging

import anyio
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.runtime import Runtime
from bot.store.dialect import READ_ONLY

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 5


def _database_answers(runtime: Runtime) -> None:
    with runtime.db.connect().execution_options(**{READ_ONLY: True}) as conn:
        conn.execute(text("SELECT 1"))


def health_route(runtime: Runtime) -> Route:
    async def healthz(_request: Request) -> Response:
        healthy = False
        # A hung connection attempt must not hang the probe: give up after a few seconds
        # (the thread finishes on its own; its result is ignored).
        with anyio.move_on_after(HEALTH_TIMEOUT_SECONDS):
            try:
                await anyio.to_thread.run_sync(_database_answers, runtime, abandon_on_cancel=True)
                healthy = True
            except Exception as exc:  # any failure to answer means "unavailable"
                log.warning("health check: database unavailable (%s)", type(exc).__name__)
        if healthy:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    return Route("/healthz", healthz, methods=["GET"])
