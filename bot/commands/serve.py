"""`csbot serve`: the HTTP service (webhooks, documents, outbox worker) on uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from bot.commands import Commands
from bot.config import Settings
from bot.errors import CommandError
from bot.logs import configure_logging
from bot.runtime import open_runtime
from bot.store.database import normalise_url
from bot.web.app import GRACEFUL_SHUTDOWN_SECONDS, create_app
from bot.web.protocol import connection_limits


def register(commands: Commands) -> None:
    parser = commands.add_parser("serve", help="run the HTTP service (webhooks, documents, outbox worker)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--telegram-polling",
        action="store_true",
        help="fetch Telegram updates by polling instead of a webhook (local use)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    host, port, workers, telegram_polling = args.host, args.port, args.workers, args.telegram_polling
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
        **connection_limits(),  # header timeout, open-connection limit (bot/web/protocol.py)
    }
    try:
        if workers == 1:
            app = create_app(runtime, telegram_polling=telegram_polling, freeze_heap=True)
            uvicorn.run(app, **common)
        else:
            runtime.dispose()  # each worker opens its own pool after the fork
            uvicorn.run("bot.web.app:app_factory", factory=True, workers=workers, **common)
    except SystemExit as exc:  # uvicorn exits with 3 when the app or the socket fails
        code = exc.code if isinstance(exc.code, int) else 1
        if code:
            raise CommandError(
                f"the service could not start on {host}:{port} (see the log above)", status=code
            ) from None
    return 0
