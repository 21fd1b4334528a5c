"""Pages from Jinja2 templates, with autoescaping on for every template whatever its name:
whatever a parent typed is shown as text, never as markup."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.desk.sessions import COOKIE_PATH, csrf_token

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def utc(moment: dt.datetime | None) -> str:
    """'2026-11-30 14:03 UTC', or an em dash."""
    if moment is None:
        return "\u2014"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def sentence(text: str) -> str:
    """'no such request' -> 'No such request.' (the rest of the text as it was)."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, not only *.html
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = utc
    return env


templates = Jinja2Templates(env=environment())


def page(request: Request, name: str, *, status: int = 200, title: str, **context: Any) -> Response:
    """Render a page: the signed-in staff (if any), the form token and a one-time notice are
    always in its context."""
    session = request.session
    # Outside /staff (a browser's /favicon.ico) the cookie is not sent: making a token there
    # would set a new cookie over the real one.
    in_scope = request.url.path == COOKIE_PATH or request.url.path.startswith(COOKIE_PATH + "/")
    context.update(
        title=title,
        staff=getattr(request.state, "staff", None),
        csrf=csrf_token(session) if in_scope else "",
        flash=session.pop("flash", None),
        error=context.get("error"),
        path=request.url.path,
    )
    return templates.TemplateResponse(request, name, context, status_code=status)


def refusal(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "refusal.html", status=status, title=title, message=message)
