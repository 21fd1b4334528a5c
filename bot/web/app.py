"""`csbot serve`: one Starlette app for every webhook, run by uvicorn.

Each feature contributes a component (bot/web/components.py): routes plus startup/shutdown
hooks that the app's lifespan runs. A channel whose credentials are not configured adds no
routes, so its path is a plain 404.

Several processes (`--workers N`) share one PostgreSQL database: migrations run once in the
parent, then uvicorn spawns the workers, each of which builds its own settings, database pool
and components from the environment through `app_factory`. Nothing a request needs lives in
process memory, so any worker can take any message.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.alerts.runner import AlertsComponent
from bot.channels.sms.route import SMS_PATH, sms_component
from bot.channels.sms.status import STATUS_PATH
from bot.channels.telegram.route import telegram_component
from bot.conversation.engine import ConversationEngine
from bot.documents.route import document_component
from bot.errors import ConfigError
from bot.office_answers.reader import reply_reader_component
from bot.outbound.messages import Doorbell
from bot.outbound.worker import OutboundComponent
from bot.outbox.worker import outbox_component
from bot.runtime import Runtime, open_runtime
from bot.web.components import WebComponent
from bot.web.health import health_route
from bot.web.housekeeping import maintenance_component
from bot.web.middleware import BodySizeLimit, OneLineStartupFailure

log = logging.getLogger(__name__)

# Request bodies: Twilio's form posts are a few KB, Telegram updates well under 1 MB.
DEFAULT_BODY_LIMIT = 1024 * 1024
BODY_LIMITS = {SMS_PATH: 64 * 1024, STATUS_PATH: 64 * 1024}
GRACEFUL_SHUTDOWN_SECONDS = 10


def build_components(
    runtime: Runtime, *, telegram_polling: bool = False, background: bool = True
) -> list[WebComponent]:
    components: list[WebComponent] = []
    engine = ConversationEngine(runtime)
    sms = sms_component(runtime, engine)
    if sms is not None:
        components.append(sms)
    doorbell = Doorbell()  # the Telegram webhook rings the outbound sender after its commit
    telegram = telegram_component(runtime, engine, polling=telegram_polling, doorbell=doorbell)
    if telegram is not None:
        components.append(telegram)
    components.append(document_component(runtime))
    if background:
        components.append(outbox_component(runtime))
        components.append(OutboundComponent(runtime, doorbell))
        reader = reply_reader_component(runtime)  # answers from the offices, when IMAP is set
        if reader is not None:
            components.append(reader)
        components.append(maintenance_component(runtime))  # hourly pruning of old ids
        components.append(AlertsComponent(runtime, doorbell))  # daily coupon check, alert dispatch
    return components


def create_app(
    runtime: Runtime,
    *,
    telegram_polling: bool = False,
    background: bool = True,
    components: list[WebComponent] | None = None,
    freeze_heap: bool = False,
) -> Starlette:
    """The ASGI app. `background=False` leaves out background tasks (outbox, outbound sender,
    pruning), for tests of the routes alone; `components` replaces the configured ones
    entirely. `freeze_heap` (the service's own process, not a test's): see _freeze_heap."""
    if components is None:
        components = build_components(
            runtime, telegram_polling=telegram_polling, background=background
        )
    routes: list[BaseRoute] = [health_route(runtime)]
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
            if freeze_heap:
                _freeze_heap()
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


def _describe_routes(routes: list[BaseRoute]) -> str:
    paths = [getattr(route, "path", "?") for route in routes]
    return "routes: " + ", ".join(paths)


def _freeze_heap() -> None:
    """Move everything start-up built (SQLAlchemy's mappings, python-telegram-bot, Babel's
    locale data, the catalogs) out of the garbage collector's sight. Python's full collections
    walk every tracked object; with these they took tens of milliseconds, and a webhook that
    arrived during one waited: measured, gc.freeze() halved the Telegram webhook's p99 (55 to
    27 ms) and raised its throughput by a fifth (bench/RESULTS.md). Objects made later are
    collected as before."""
    gc.collect()
    gc.freeze()
    log.info("heap frozen after start-up (%d objects)", gc.get_freeze_count())


def app_factory() -> Starlette:
    """Build the app in a uvicorn worker process (`--workers N`): settings and database from
    the environment, migrations already applied by the parent."""
    from bot.config import load_settings
    from bot.logs import configure_logging

    settings = load_settings()
    configure_logging(settings)
    runtime = open_runtime(settings, migrate=False)
    return create_app(runtime, freeze_heap=True)
