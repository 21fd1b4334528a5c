"""GET /d/{token}: the documents an SMS reply offers by link, as a web component of
`csbot serve`. Every failure (expired, altered, malformed, unknown, not yours) is one 404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.documents.access import DocumentNotFound, open_document
from bot.documents.links import read_document_token
from bot.runtime import Runtime


def _not_found() -> Response:
    # One body for every failure: expired, altered, malformed, unknown, not yours.
    return PlainTextResponse("Not found\n", status_code=404, headers={"Cache-Control": "no-store"})


class DocumentComponent:
    """The web component serving documents offered by link (SMS)."""

    def __init__(self, runtime: Runtime, clock: Callable[[], dt.datetime]) -> None:
        self._runtime = runtime
        self._clock = clock
        self.routes: list[BaseRoute] = [Route("/d/{token}", self._get, methods=["GET"])]

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def _get(self, request: Request) -> Response:
        now = self._clock()
        ref = read_document_token(self._runtime.settings, request.path_params["token"], now)
        if ref is None:
            return _not_found()
        client = request.client.host if request.client else "unknown"
        try:
            filename, pdf = await anyio.to_thread.run_sync(
                partial(open_document, self._runtime, ref, channel="link", sender=client, now=now)
            )
        except DocumentNotFound:
            return _not_found()
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",  # the URL is a bearer token
            },
        )


def document_component(
    runtime: Runtime, *, clock: Callable[[], dt.datetime] | None = None
) -> DocumentComponent:
    return DocumentComponent(runtime, clock or (lambda: dt.datetime.now(dt.UTC)))
