"""`csbot staff-users add USERNAME (--office CODE... | --all-offices) [--supervisor] | list |
disable USERNAME | reset-password USERNAME`: who may sign in to the staff desk. Passwords are
read from standard input (one line; asked for without echo at a terminal), never echoed."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.commands import Commands
from bot.commands.output import counted, table
from bot.config import Settings
from bot.desk.accounts import add_user, disable_user, list_users, reset_password
from bot.desk.passwords import MIN_PASSWORD_LENGTH
from bot.errors import CommandError
from bot.runtime import open_runtime
from bot.services.staff_work import iso


def register(commands: Commands) -> None:
    parser = commands.add_parser("staff-users", help="staff desk accounts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a staff user (the password on standard input)")
    add.add_argument("username")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--office", action="append", metavar="CODE", help="an office they work for (repeat, or list)",
                       nargs="+")
    where.add_argument("--all-offices", action="store_true", help="every office")
    add.add_argument("--supervisor", action="store_true", help="may search the audit trail")
    actions.add_parser("list", help="staff users")
    disable = actions.add_parser("disable", help="disable a user (their open sessions end)")
    disable.add_argument("username")
    reset = actions.add_parser("reset-password", help="set a new password (on standard input); sessions end")
    reset.add_argument("username")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    with open_runtime(settings) as runtime:
        if args.action == "add":
            offices = [code for group in (args.office or []) for code in group]
            user = add_user(runtime, args.username, read_password(), offices=offices,
                            all_offices=args.all_offices, supervisor=args.supervisor)
            where = "every office" if user.offices is None else ", ".join(user.offices)
            role = "supervisor" if user.supervisor else "staff"
            print(f"added {role} user {user.username} ({where})")
        elif args.action == "disable":
            disable_user(runtime, args.username)
            print(f"disabled {args.username}: their open sessions end on their next request")
        elif args.action == "reset-password":
            reset_password(runtime, args.username, read_password())
            print(f"new password set for {args.username}: their open sessions ended")
        else:
            rows = list_users(runtime)
            if not rows:
                print("no staff users")
                return 0
            print(table(
                ("username", "offices", "supervisor", "disabled (UTC)", "sign-in locked until (UTC)", "created (UTC)"),
                [(u.username, "all" if u.offices is None else ",".join(u.offices) or "-",
                  "yes" if u.supervisor else "no", iso(u.disabled_at), iso(u.locked_until), iso(u.created_at))
                 for u in rows],
            ))
            print(counted(len(rows), "staff user"))
    return 0


def read_password() -> str:
    """One line from standard input, or a prompt without echo at a terminal."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password (at least {MIN_PASSWORD_LENGTH} characters): ")
        if getpass.getpass("Again: ") != first:
            raise CommandError("the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline()
    if not line:
        raise CommandError("no password on standard input; nothing was changed")
    return line.rstrip("\r\n")
