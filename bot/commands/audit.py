"""`csbot audit list [--person ID] [--since YYYY-MM-DD] [--limit N]`: who viewed which kind of
record through which chat, newest first (never the data itself). Staff desk actions are listed
too: channel "desk", the staff user as the chat, what they touched as the detail."""

from __future__ import annotations

import argparse
import datetime as dt

from bot.commands import Commands
from bot.commands.output import table
from bot.config import Settings
from bot.errors import CommandError
from bot.runtime import open_runtime
from bot.services.staff_work import audit_records, iso


def register(commands: Commands) -> None:
    parser = commands.add_parser("audit", help="who viewed which kind of record")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list")
    listing.add_argument("--person")
    listing.add_argument("--since", help="YYYY-MM-DD")
    listing.add_argument("--limit", type=int, default=200)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    since: dt.datetime | None = None
    if args.since:
        try:
            day = dt.date.fromisoformat(args.since)
        except ValueError:
            raise CommandError("--since must be a date YYYY-MM-DD") from None
        since = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    with open_runtime(settings) as runtime:
        records = audit_records(runtime, person_id=args.person, since=since, limit=args.limit)
    if not records:
        print("no audit records")
        return 0
    print(
        table(
            ("when (UTC)", "person id", "channel", "chat", "record", "detail"),
            [(iso(r.at), r.person_id, r.channel, r.sender, r.record_kind, r.detail) for r in records],
        )
    )
    if len(records) == args.limit:
        print(f"(newest {args.limit} shown; use --limit for more)")
    return 0
