"""Sign in and sign out. Every refused sign-in gets the same page, status and words."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.desk import sessions
from bot.desk.access import checked_form, csrf_refusal, field, now, runtime_of, staff_page
from bot.desk.audit import Action, record
from bot.desk.auth import Staff, end_sessions, sign_in
from bot.desk.render import page

log = logging.getLogger("csbot.desk")
HOME = "/staff/messages"
REFUSED = (
    "Sign-in failed. Check your username and password. After 5 failed attempts in a row an account"
    " is locked for 15 minutes; a supervisor or administrator can help."
)


async def sign_in_form(request: Request) -> Response:
    if "uid" in request.session:
        return RedirectResponse(HOME, status_code=303)
    return page(request, "sign_in.html", title="Sign in", username="")


async def sign_in_post(request: Request) -> Response:
    form = await checked_form(request)
    if form is None:
        return csrf_refusal(request)
    username, password = field(form, "username").strip(), field(form, "password")
    moment = now(request)

    def check() -> Staff | None:
        with runtime_of(request).write() as db:
            outcome = sign_in(db, username, password, moment)
            if outcome.staff is not None:
                record(db, outcome.staff.username, Action.SIGN_IN, moment)
            elif outcome.username_known:
                action = Action.SIGN_IN_LOCKED if outcome.locked_now else Action.SIGN_IN_REFUSED
                record(db, username.lower(), action, moment)
                if outcome.locked_now:  # the username only, never what was typed as the password
                    log.warning("staff user %s is locked for 15 minutes after 5 failed sign-ins", username.lower())
            return outcome.staff

    staff = await run_in_threadpool(check)
    if staff is None:
        return page(request, "sign_in.html", status=401, title="Sign in", username=username[:64], error=REFUSED)
    sessions.start(request.session, staff.id, staff.session_version, moment)
    return RedirectResponse(HOME, status_code=303)


@staff_page()
async def sign_out(request: Request, staff: Staff) -> Response:
    moment = now(request)

    def finish() -> None:
        with runtime_of(request).write() as db:
            end_sessions(db, staff.id)
            record(db, staff.username, Action.SIGN_OUT, moment)

    await run_in_threadpool(finish)
    sessions.end(request.session)
    request.session["flash"] = "You are signed out."
    return RedirectResponse("/staff/sign-in", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/staff/sign-in", sign_in_form, methods=["GET"]),
        Route("/staff/sign-in", sign_in_post, methods=["POST"]),
        Route("/staff/sign-out", sign_out, methods=["POST"]),
    ]
