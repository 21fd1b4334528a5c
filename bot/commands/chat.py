"""`csbot chat`: talk to the bot in the terminal, against the configured database."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.channels.console import chat, input_lines
from bot.commands import Commands
from bot.config import Settings
from bot.errors import CommandError
from bot.runtime import Runtime, open_runtime
from bot.store.database import normalise_url
from bot.store.models import Person

NO_DATA_HINT = "load an extract with `csbot import FILE`, or try `csbot demo`, which brings its own"


def register(commands: Commands) -> None:
    parser = commands.add_parser("chat", help="talk to the bot in the terminal")
    parser.add_argument("--as", dest="as_channel", choices=["sms", "telegram"], default="sms")
    parser.add_argument("--from", dest="sender", default=None, help="sender id (phone or chat id)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.WARNING)
    settings.require_secret_key()  # the first thing missing is the first thing said
    _refuse_a_missing_sqlite_file(settings.database_url)
    with open_runtime(settings) as runtime:
        _refuse_an_empty_database(runtime)
        chat(runtime, as_channel=args.as_channel, sender=args.sender, lines=input_lines(sys.stdin), out=sys.stdout)
    return 0


def _refuse_a_missing_sqlite_file(database_url: str) -> None:
    """A chat never creates a database: an empty one would answer every SSN with a failure."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database).expanduser()
        if not path.is_file():
            raise CommandError(f"CSBOT_DATABASE_URL: there is no database at {path}: {NO_DATA_HINT}")


def _refuse_an_empty_database(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        people = session.scalar(select(func.count()).select_from(Person)) or 0
    if people == 0:
        where = runtime.db.url.render_as_string(hide_password=True)
        raise CommandError(f"the database at {where} holds no account data: {NO_DATA_HINT}")
