"""`csbot office-messages list [--all] | retry ID...`: parents' messages to their offices."""

from __future__ import annotations

import argparse

from bot.commands import Commands
from bot.commands.output import counted, table
from bot.config import Settings
from bot.runtime import Runtime, open_runtime
from bot.services.staff_work import iso, office_messages, retry_office_messages


def register(commands: Commands) -> None:
    parser = commands.add_parser("office-messages", help="parents' messages to their offices (the outbox)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="messages not yet sent (--all for every message)")
    listing.add_argument("--all", action="store_true")
    retry = actions.add_parser("retry", help="queue failed messages again")
    retry.add_argument("ids", nargs="+", type=int, metavar="ID")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    runtime = open_runtime(settings)
    try:
        if args.action == "list":
            list_messages(runtime, include_sent=args.all)
        else:
            queued = retry_office_messages(runtime, args.ids)
            print(f"queued {counted(len(queued), 'message')} again: " + ", ".join(map(str, queued)))
    finally:
        runtime.dispose()
    return 0


def list_messages(runtime: Runtime, *, include_sent: bool) -> None:
    messages = office_messages(runtime, include_sent=include_sent)
    if not messages:
        print("no office messages" if include_sent else "no unsent office messages")
        return
    headers = ("id", "reference", "office", "case", "status", "attempts", "next attempt (UTC)", "created (UTC)",
               "last error")
    print(
        table(
            headers,
            [
                (
                    m.id,
                    m.reference,
                    m.office_code,
                    m.case_number,  # staff see the full case number, as the office mail does
                    m.status,
                    m.attempts,
                    iso(m.next_attempt_at) if m.status in ("queued", "sending") else "-",
                    iso(m.created_at),
                    (m.last_error or "")[:60] or None,
                )
                for m in messages
            ],
        )
    )
