"""`csbot worker`: the outbox worker alone (office mail)."""

from __future__ import annotations

import argparse

from bot.commands import Commands
from bot.config import Settings
from bot.outbox import run_worker_command


def register(commands: Commands) -> None:
    parser = commands.add_parser("worker", help="run the outbox worker alone (office mail)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_worker_command(settings)
