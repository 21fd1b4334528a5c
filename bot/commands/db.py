"""`csbot db upgrade`: apply the database migrations (Alembic)."""

from __future__ import annotations

import argparse

from bot.commands import Commands
from bot.config import Settings
from bot.store.database import make_engine, upgrade


def register(commands: Commands) -> None:
    parser = commands.add_parser("db", help="database maintenance")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("upgrade", help="apply migrations")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        applied = upgrade(engine)
    finally:
        engine.dispose()
    print("database upgraded" if applied else "database already up to date")
    return 0
