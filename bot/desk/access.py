"""Who may open a page: `@staff_page()` lets a request through only with a live session (signed,
not idle for 30 minutes, its user neither disabled nor signed out since), and a POST only with
the session's CSRF token in its form; `supervisor=True` also needs a supervisor.

Without a live session the browser goes to the sign-in page (303) and nothing runs; a POST
with a missing or wrong token gets 403 and nothing runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.desk import sessions
from bot.desk.auth import Staff, current_staff
from bot.desk.render import refusal
from bot.runtime import Runtime

SIGN_IN_PATH = "/staff/sign-in"
MAX_FORM_FIELDS = 500

Handler = Callable[[Request, Staff], Awaitable[Response]]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def now(request: Request) -> dt.datetime:
    clock: Callable[[], dt.datetime] = request.app.state.clock
    return clock()


async def read_form(request: Request) -> FormData:
    """The desk's forms are all application/x-www-form-urlencoded (no file uploads), parsed
    here with the standard library; anything else is an empty form (and so fails CSRF)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return FormData()
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # too many fields
        return FormData()
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)


async def checked_form(request: Request) -> FormData | None:
    """The posted form when it carries the session's CSRF token, else None."""
    form = await read_form(request)
    submitted = form.get("csrf_token")
    return form if sessions.csrf_matches(request.session, submitted) else None


def csrf_refusal(request: Request) -> Response:
    return refusal(
        request, 403, "Form refused",
        "This form did not carry the desk's security token (it is stale, or it did not come from"
        " the desk). Nothing was changed. Go back, reload the page and try again.",
    )


def _signed_in(request: Request) -> Staff | None:
    session = request.session
    if not sessions.still_fresh(session, now(request)):
        return None
    with runtime_of(request).sessions() as db:
        return current_staff(db, session.get("uid"), session.get("ver"))


def staff_page(*, supervisor: bool = False) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            staff = await run_in_threadpool(_signed_in, request)
            if staff is None:
                had_session = "uid" in request.session
                sessions.end(request.session)
                if had_session:
                    request.session["flash"] = "Your session has ended. Please sign in again."
                return RedirectResponse(SIGN_IN_PATH, status_code=303)
            request.state.staff = staff
            if request.method == "POST":
                form = await checked_form(request)
                if form is None:
                    return csrf_refusal(request)
                request.state.form = form
            if supervisor and not staff.supervisor:
                return refusal(request, 403, "Supervisors only", "Only a supervisor can open this page.")
            return await handler(request, staff)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def form_of(request: Request) -> FormData:
    form: FormData = request.state.form
    return form


def field(form: FormData, name: str) -> str:
    value: Any = form.get(name)
    return value if isinstance(value, str) else ""
