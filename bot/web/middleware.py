"""ASGI middleware of the public service: request body limits (413), and a start-up failure
reported as the one line that names the setting."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised from `receive` when a streamed body passes its limit."""


class BodySizeLimit:
    """Refuse request bodies over a per-path limit with 413, before a handler reads them.

    A declared Content-Length over the limit is refused at once; a chunked body is counted
    as it streams and the handler gets BodyTooLarge, which this middleware turns into 413.
    """

    def __init__(
        self, app: ASGIApp, default_limit: int, limits: dict[str, int], message: str = "Request body too large"
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope.get("path", ""), self.default_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, self.message)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _too_large(send, self.message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, message: str) -> None:
    response = PlainTextResponse(message, status_code=413)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a plain response never reads
    return {"type": "http.disconnect"}


class OneLineStartupFailure:
    """Starlette reports a failed start-up with the whole traceback, which uvicorn logs; for
    a configuration error the operator needs the one line that names the setting."""

    def __init__(self, app: ASGIApp, problems: list[str]) -> None:
        self.app = app
        self.problems = problems

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_plainly(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed" and self.problems:
                message = {**message, "message": self.problems[-1]}
            await send(message)

        await self.app(scope, receive, send_plainly)
