"""`csbot worker`: the background senders alone, until SIGINT or SIGTERM: the office-mail
outbox (with CSBOT_SMTP_HOST) and the outbound queue (SMS with TWILIO_ACCOUNT_SID,
TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER; Telegram with TELEGRAM_BOT_TOKEN). It refuses to
start only when it could send nothing at all; a part it cannot run is named in a warning. It also
runs the alerts' daily coupon check and dispatch (bot/alerts/runner.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from bot.alerts.runner import AlertsComponent
from bot.commands import Commands
from bot.config import Settings
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.office_answers.reader import ReplyReader
from bot.outbound.sms import SMS_SENDER_VARIABLES
from bot.outbound.worker import OutboundWorker, build_senders
from bot.outbox.queue import count_waiting
from bot.outbox.smtp import SMTP_VARIABLES
from bot.outbox.worker import OutboxWorker
from bot.runtime import Runtime, open_runtime

log = logging.getLogger("csbot.outbox")


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "worker",
        help="run the background work alone: office mail, SMS and Telegram messages, the reply reader",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Send until SIGINT or SIGTERM, then return 0. With nothing configured to send with,
    ConfigError naming the variables to set and how many office messages wait."""
    configure_logging(settings)
    settings.check_channels()
    with open_runtime(settings, pool_size=4) as runtime:
        if not any((settings.smtp_enabled, settings.sms_sending_enabled, settings.telegram_enabled,
                    settings.imap_enabled)):
            with runtime.sessions() as session:
                waiting = count_waiting(session)
            raise ConfigError(
                "nothing to send with: CSBOT_SMTP_HOST is not set, so the outbox worker has no mail"
                f" server for the {waiting} waiting office message(s) (set {SMTP_VARIABLES}), and"
                f" neither SMS ({SMS_SENDER_VARIABLES}) nor TELEGRAM_BOT_TOKEN is set for the"
                " outbound queue"
            )
        asyncio.run(_run_until_signalled(runtime))
    return 0


async def _run_until_signalled(runtime: Runtime) -> None:
    outbox = OutboxWorker(runtime)  # without SMTP it only warns that office mail waits
    outbound = OutboundWorker(runtime, build_senders(runtime))
    reader = ReplyReader(runtime) if runtime.settings.imap_enabled else None
    alerts = AlertsComponent(runtime, outbound.doorbell)  # daily coupon check, alert dispatch
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    await outbox.start()
    await outbound.start()
    if reader is not None:
        await reader.start()
    await alerts.startup()
    await stop_requested.wait()
    await alerts.shutdown()
    log.info("outbox worker stopping")
    if reader is not None:
        await reader.stop()
    await outbox.stop()
    log.info("outbox worker stopped")
    await outbound.stop()
    log.info("outbound sender stopped")
