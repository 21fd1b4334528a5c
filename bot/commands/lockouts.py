"""`csbot lockouts list | unlock PERSON_ID`: accounts locked after wrong PINs."""

from __future__ import annotations

import argparse

from bot.commands import Commands
from bot.commands.output import table
from bot.config import Settings
from bot.runtime import open_runtime
from bot.services.staff_work import active_locks, full_name, iso, unlock


def register(commands: Commands) -> None:
    parser = commands.add_parser("lockouts", help="accounts locked after wrong PINs")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="locked accounts")
    unlock_parser = actions.add_parser("unlock", help="unlock an account now")
    unlock_parser.add_argument("person_id")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    with open_runtime(settings) as runtime:
        if args.action == "unlock":
            unlock(runtime, args.person_id)
            print(f"unlocked {args.person_id}")
            return 0
        rows = active_locks(runtime)
    if not rows:
        print("no locked accounts")
        return 0
    print(
        table(
            ("person id", "name", "locked until (UTC)", "wrong PINs"),
            [(lock.person_id, full_name(p), iso(lock.locked_until), lock.consecutive_failures) for lock, p in rows],
        )
    )
    return 0
