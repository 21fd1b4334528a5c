"""`csbot worker`: the outbox worker alone, delivering office mail until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from bot.commands import Commands
from bot.config import Settings
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.office_answers.reader import ReplyReader
from bot.outbox.queue import count_waiting
from bot.outbox.smtp import SMTP_VARIABLES
from bot.outbox.worker import OutboxWorker
from bot.runtime import Runtime, open_runtime

log = logging.getLogger("csbot.outbox")


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "worker", help="run the outbox worker alone (office mail; and the reply reader with CSBOT_IMAP_HOST)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver office mail until SIGINT or SIGTERM, then return 0. Without a mail server,
    ConfigError naming the variables to set and how many messages wait."""
    configure_logging(settings)
    runtime = open_runtime(settings, pool_size=2)
    try:
        if not settings.smtp_enabled:
            with runtime.sessions() as session:
                waiting = count_waiting(session)
            raise ConfigError(
                f"CSBOT_SMTP_HOST is not set: the outbox worker has no mail server to send the"
                f" {waiting} waiting office message(s) with (set {SMTP_VARIABLES})"
            )
        asyncio.run(_run_until_signalled(runtime))
    finally:
        runtime.dispose()
    return 0


async def _run_until_signalled(runtime: Runtime) -> None:
    worker = OutboxWorker(runtime)
    reader = ReplyReader(runtime) if runtime.settings.imap_enabled else None
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    await worker.start()
    if reader is not None:
        await reader.start()
    await stop_requested.wait()
    log.info("outbox worker stopping")
    if reader is not None:
        await reader.stop()
    await worker.stop()
    log.info("outbox worker stopped")
