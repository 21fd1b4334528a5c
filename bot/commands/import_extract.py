"""`csbot import FILE [--replace] [--quiet]`: load an account data extract (csbot-import/1)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands import Commands
from bot.config import Settings
from bot.importer import run_import_command


def register(commands: Commands) -> None:
    parser = commands.add_parser("import", help="load an account data extract (csbot-import/1)")
    parser.add_argument("file", type=Path)
    parser.add_argument("--replace", action="store_true", help="make the file the whole truth")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_import_command(settings, args.file, replace=args.replace, quiet=args.quiet)
