"""`csbot serve`: one Starlette app for every webhook, run by uvicorn.

Each feature contributes a component (bot/web_components.py): routes plus startup/shutdown
hooks that the app's lifespan runs. A channel whose credentials are not configured adds no
routes, so its path is a plain 404.

Several processes (`--workers N`) share one PostgreSQL database: migrations run once in the
parent, then uvicorn spawns the workers, each of which builds its own settings, database pool
and components from the environment through `app_factory`. Nothing a request needs lives in
process memory, so any worker can take any message.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.errors import ConfigError
from bot.runtime import Runtime, open_runtime
from bot.store.session import READ_ONLY
from bot.web_components import WebComponent

log = logging.getLogger(__name__)

# Request bodies: Twilio's form posts are a few KB, Telegram updates well under 1 MB.
DEFAULT_BODY_LIMIT = 1024 * 1024
BODY_LIMITS = {"/twilio/sms": 64 * 1024}
HEALTH_TIMEOUT_SECONDS = 5
GRACEFUL_SHUTDOWN_SECONDS = 10


class BodyTooLarge(Exception):
    """Raised from `receive` when a streamed body passes its limit."""


class BodySizeLimit:
    """Refuse request bodies over a per-path limit with 413, before a handler reads them.

    A declared Content-Length over the limit is refused at once; a chunked body is counted
    as it streams and the handler gets BodyTooLarge, which this middleware turns into 413.
    """

    def __init__(self, app: ASGIApp, default_limit: int, limits: dict[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope.get("path", ""), self.default_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send)
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
                await _too_large(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send) -> None:
    response = PlainTextResponse("Request body too large", status_code=413)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a plain response never reads
    return {"type": "http.disconnect"}


def _database_answers(runtime: Runtime) -> None:
    with runtime.db.connect().execution_options(**{READ_ONLY: True}) as conn:
        conn.execute(text("SELECT 1"))


def _health_route(runtime: Runtime) -> Route:
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


def _optional(module_name: str, attribute: str) -> Callable[..., Any] | None:
    """A component factory from a module that may not be installed yet.

    Only the absence of that very module is tolerated; an import error inside it (a bug or
    a missing dependency of its own) is raised as usual.
    """
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        log.warning("%s is not available: its routes are off", module_name)
        return None
    return getattr(module, attribute)


def build_components(
    runtime: Runtime, *, telegram_polling: bool = False, background: bool = True
) -> list[WebComponent]:
    settings = runtime.settings
    components: list[WebComponent] = []
    engine = None
    if settings.sms_enabled or settings.telegram_enabled:
        from bot.engine import ConversationEngine

        engine = ConversationEngine(runtime)
    if settings.sms_enabled:
        from bot.channels.sms import sms_component

        sms = sms_component(runtime, engine)
        if sms is not None:
            components.append(sms)
    if settings.telegram_enabled:
        telegram_factory = _optional("bot.channels.telegram", "telegram_component")
        if telegram_factory is not None:
            telegram = telegram_factory(runtime, engine, polling=telegram_polling)
            if telegram is not None:
                components.append(telegram)
    document_factory = _optional("bot.documents.route", "document_component")
    if document_factory is not None:
        components.append(document_factory(runtime))
    if background:
        outbox_factory = _optional("bot.outbox.worker", "outbox_component")
        if outbox_factory is not None:
            components.append(outbox_factory(runtime))
        from bot.maintenance import maintenance_component  # hourly pruning of old ids

        components.append(maintenance_component(runtime))
    return components


def create_app(
    runtime: Runtime,
    *,
    telegram_polling: bool = False,
    background: bool = True,
    components: list[WebComponent] | None = None,
) -> Starlette:
    """The ASGI app. `background=False` leaves out background tasks (outbox, pruning), for
    tests of the routes alone; `components` replaces the configured ones entirely."""
    if components is None:
        components = build_components(
            runtime, telegram_polling=telegram_polling, background=background
        )
    routes: list[BaseRoute] = [_health_route(runtime)]
    for component in components:
        routes.extend(component.routes)

    startup_problems: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        started: list[WebComponent] = []
        try:
            for component in components:
                try:
                    await component.startup()
                except ConfigError as exc:  # an operator's mistake: one line, not a traceback
                    startup_problems.append(f"csbot serve cannot start: {exc}")
                    raise
                started.append(component)
            log.info("csbot serve ready (%s)", _describe_routes(routes))
            yield
        finally:
            for component in reversed(started):
                try:
                    await component.shutdown()
                except Exception:
                    log.exception("a component failed to shut down cleanly")
            runtime.dispose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(BodySizeLimit, default_limit=DEFAULT_BODY_LIMIT, limits=BODY_LIMITS)
    app.add_middleware(OneLineStartupFailure, problems=startup_problems)
    return app


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


def _describe_routes(routes: list[BaseRoute]) -> str:
    paths = [getattr(route, "path", "?") for route in routes]
    return "routes: " + ", ".join(paths)


def app_factory() -> Starlette:
    """Build the app in a uvicorn worker process (`--workers N`): settings and database from
    the environment, migrations already applied by the parent."""
    from bot.config import load_settings
    from bot.logs import configure_logging

    settings = load_settings()
    configure_logging(settings)
    runtime = open_runtime(settings, migrate=False)
    return create_app(runtime)


def run_serve(
    settings: Settings, *, host: str, port: int, workers: int, telegram_polling: bool
) -> int:
    import uvicorn

    from bot.errors import CommandError
    from bot.logs import configure_logging
    from bot.store.session import normalise_url

    configure_logging(settings)
    settings.check_channels()
    if workers < 1:
        raise CommandError("--workers must be 1 or more")
    if workers > 1 and normalise_url(settings.database_url).startswith("sqlite"):
        raise CommandError(
            f"--workers {workers} needs PostgreSQL: SQLite takes one writer at a time."
            " Set CSBOT_DATABASE_URL to a postgresql:// URL, or run one worker"
        )
    if workers > 1 and telegram_polling:
        raise CommandError("--telegram-polling runs in one process only: use --workers 1")
    if not 0 < port < 65536:
        raise CommandError("--port must be between 1 and 65535")

    runtime = open_runtime(settings)  # migrates, once, before any worker starts
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,  # keep our logging setup (with secret redaction)
        "access_log": False,  # request lines add nothing the app's own log lacks
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "lifespan": "on",
    }
    try:
        if workers == 1:
            app = create_app(runtime, telegram_polling=telegram_polling)
            uvicorn.run(app, **common)
        else:
            runtime.dispose()  # each worker opens its own pool after the fork
            uvicorn.run("bot.web:app_factory", factory=True, workers=workers, **common)
    except SystemExit as exc:  # uvicorn exits with 3 when the app or the socket fails
        code = exc.code if isinstance(exc.code, int) else 1
        if code:
            raise CommandError(
                f"the service could not start on {host}:{port} (see the log above)", status=code
            ) from None
    return 0
