"""`csbot chat`: talk to the bot in the terminal, against the configured database."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.channels.console import chat, input_lines
from bot.commands import Commands
from bot.config import Settings
from bot.runtime import open_runtime


def register(commands: Commands) -> None:
    parser = commands.add_parser("chat", help="talk to the bot in the terminal")
    parser.add_argument("--as", dest="as_channel", choices=["sms", "telegram"], default="sms")
    parser.add_argument("--from", dest="sender", default=None, help="sender id (phone or chat id)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.WARNING)
    runtime = open_runtime(settings)
    try:
        chat(runtime, as_channel=args.as_channel, sender=args.sender, lines=input_lines(sys.stdin), out=sys.stdout)
    finally:
        runtime.dispose()
    return 0
