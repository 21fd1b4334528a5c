"""The `csbot` command line: assembles the parser from `bot/commands/`, runs the chosen
command, and is the one place that prints an operator error (`bot.errors`)."""

from __future__ import annotations

import argparse
import os
import sys

from bot.commands import (
    alerts,
    audit,
    chat,
    db,
    demo,
    demo_data,
    desk,
    import_extract,
    lockouts,
    office_messages,
    outbound,
    pin_requests,
    serve,
    staff_users,
    worker,
)
from bot.config import load_settings
from bot.errors import CsbotError

# In the order `csbot --help` lists them.
COMMANDS = (
    import_extract, demo, demo_data, chat, serve, worker, db, pin_requests, office_messages, outbound, alerts, lockouts,
    audit, desk, staff_users,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csbot",
        description="Child support self-service over SMS and Telegram (English/French).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args, load_settings())
        sys.stdout.flush()  # here, where a closed pipe can still be caught
        return status
    except CsbotError as exc:
        print(f"csbot: error: {exc}", file=sys.stderr)
        for line in exc.details:
            print(f"  {line}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `csbot office-messages list | head -1`: the reader left. Say nothing, and point
        # standard output at /dev/null so Python's own flush at exit cannot complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
