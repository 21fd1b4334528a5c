"""`csbot desk [--host H] [--port P]`: the staff desk (bot/desk/), its own web application on
its own port (127.0.0.1:8090), on the same database as `csbot serve`, never part of it."""

from __future__ import annotations

import argparse
import ipaddress
import logging

import uvicorn

from bot.commands import Commands
from bot.config import Settings
from bot.desk.app import create_desk_app
from bot.errors import CommandError
from bot.logs import configure_logging
from bot.runtime import open_runtime
from bot.web.app import GRACEFUL_SHUTDOWN_SECONDS
from bot.web.protocol import connection_limits

log = logging.getLogger("csbot.desk")


def register(commands: Commands) -> None:
    parser = commands.add_parser("desk", help="run the staff desk (web pages for staff; not the public service)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.port < 65536:
        raise CommandError("--port must be between 1 and 65535")
    configure_logging(settings)
    if not _loopback(args.host) and not settings.desk_secure_cookies:
        log.warning(
            "the desk listens on %s without CSBOT_DESK_URL=https://...: staff passwords and session"
            " cookies would cross the network in clear; put it behind a TLS reverse proxy", args.host
        )
    runtime = open_runtime(settings)  # migrates an empty or older database first
    try:
        uvicorn.run(
            create_desk_app(runtime),
            host=args.host,
            port=args.port,
            log_config=None,  # keep our logging setup (with secret redaction)
            access_log=False,
            server_header=False,
            proxy_headers=False,  # the client address is not used for anything
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            lifespan="off",
            **connection_limits(),
        )
    except SystemExit as exc:  # uvicorn exits with 3 when the socket fails
        code = exc.code if isinstance(exc.code, int) else 1
        if code:
            raise CommandError(
                f"the desk could not start on {args.host}:{args.port} (see the log above)", status=code
            ) from None
    finally:
        runtime.dispose()
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
