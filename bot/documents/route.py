"""GET /d/{token}: the documents an SMS reply offers by link, as a web component of
`csbot serve`.

Every failure is a 404 with the same short page (bot.documents.page): expired, altered,
malformed, unknown record, not yours. A token that is genuine (it decrypts) gets the page in
its language, naming its document and the word that offers a new link; anything else, which
cannot be told from a forgery, gets it in English and French. A link already opened
OPENS_PER_LINK times (bot.documents.access) gets 429 and the page, and nothing is rendered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.documents.access import DocumentNotFound, TooManyOpens, open_linked_document
from bot.documents.links import decode_document_token, token_digest
from bot.documents.page import link_page
from bot.runtime import Runtime


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
        token = request.path_params["token"]
        link = decode_document_token(self._runtime.settings, token)
        if link is None:
            return link_page(None)
        if link.expired(now):
            return link_page(link.ref)
        client = request.client.host if request.client else "unknown"
        opening = partial(
            open_linked_document, self._runtime, link.ref, token_digest(token), link.expires_at,
            sender=client, now=now,
        )
        try:
            filename, pdf = await anyio.to_thread.run_sync(opening)
        except DocumentNotFound:
            return link_page(link.ref)
        except TooManyOpens:
            return link_page(link.ref, too_often=True)
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
