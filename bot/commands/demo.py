"""`csbot demo`: the embedded database, the demo data, and a chat in the terminal."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Iterable

from bot.channels.console import DEMO_SENDER, chat, input_lines
from bot.commands import Commands
from bot.config import Settings
from bot.demo import DEMO_EXTRACT, DEMO_PEOPLE
from bot.importer.pipeline import import_extract
from bot.runtime import open_runtime

DEMO_DATABASE_URL = "sqlite:///csbot-demo.db"


def register(commands: Commands) -> None:
    parser = commands.add_parser("demo", help="load demo data into the embedded database and chat in the terminal")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Embedded database, demo data, a throwaway key when none is set, then a chat."""
    logging.basicConfig(level=logging.WARNING)
    overrides: dict[str, object] = {}
    if "CSBOT_DATABASE_URL" not in os.environ:
        overrides["database_url"] = DEMO_DATABASE_URL
    if not settings.secret_key:
        # Demo only: the demo data is loaded again on every start, so a fresh key is fine.
        overrides["secret_key"] = secrets.token_urlsafe(32)
    settings = settings.model_copy(update=overrides)
    with open_runtime(settings) as runtime:
        import_extract(runtime, DEMO_EXTRACT)
        print(demo_guide(DEMO_PEOPLE, settings.database_url))
        chat(runtime, as_channel="sms", sender=DEMO_SENDER, lines=input_lines(sys.stdin), out=sys.stdout)
    return 0


def demo_guide(people: Iterable[object], database_url: str) -> str:
    lines = [
        "csbot demo: you are a parent texting the agency (rendered as SMS).",
        f"Database: {database_url}. Try HELP, BALANCE, PAYMENTS, OFFICE, MESSAGES, ALERTS, PIN, FRANCAIS, STOP.",
        "Demo parents (Social Security number / PIN):",
    ]
    lines += [f"  {person}" for person in people]
    lines.append("Type a message and press Enter; Ctrl-D to quit.\n")
    return "\n".join(lines)
