"""`csbot desk`: the staff desk's Starlette app. A separate application from the public
service (bot/web/app.py), on its own port, over the same database; nothing here is mounted
there. Every path is under /staff, so a reverse proxy can route the desk by prefix.

Middleware, outermost first: security headers on every response, a request-body limit (a
form is small; a huge one is refused with 413 before it is read), the signed session cookie.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.clock import utcnow
from bot.desk.headers import SecurityHeaders
from bot.desk.render import STATIC, refusal
from bot.desk.sessions import cookie_options
from bot.desk.views import audit_search, health, imports, lockouts, messages, pin_requests, signin
from bot.runtime import Runtime
from bot.web.middleware import BodySizeLimit

BODY_LIMIT = 64 * 1024  # an answer is at most 4,000 characters: 48 KB form-encoded at worst
TOO_LARGE = (
    "The form is far too large for the desk (an answer is at most 4,000 characters). Nothing was"
    " recorded: go back and shorten it."
)


async def _home(_request: Request) -> Response:
    return RedirectResponse("/staff/messages", status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return refusal(request, 404, "Page not found", "There is no desk page at this address.")
    if status == 405:
        return refusal(request, 405, "Not allowed", "This page cannot be used that way.")
    return refusal(request, status, "Error", "The desk could not handle this request.")


def create_desk_app(runtime: Runtime, *, clock: Callable[[], dt.datetime] = utcnow) -> Starlette:
    routes: list[BaseRoute] = [
        Route("/", _home, methods=["GET"]),
        Route("/staff", _home, methods=["GET"]),
        Route("/staff/", _home, methods=["GET"]),
        *health.routes(),
        *signin.routes(),
        *messages.routes(),
        *pin_requests.routes(),
        *lockouts.routes(),
        *audit_search.routes(),
        *imports.routes(),
        Mount("/staff/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodySizeLimit, default_limit=BODY_LIMIT, limits={}, message=TOO_LARGE),
            Middleware(SessionMiddleware, **cookie_options(runtime.settings)),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.runtime = runtime
    app.state.clock = clock
    return app
