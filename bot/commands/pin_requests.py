"""`csbot pin-requests list | export | mark-mailed ID...`: PIN notice re-mail requests."""

from __future__ import annotations

import argparse
import csv
import sys

from bot.commands import Commands
from bot.commands.output import counted, table
from bot.config import Settings
from bot.runtime import Runtime, open_runtime
from bot.services.staff_work import (
    PIN_EXPORT_COLUMNS,
    full_name,
    iso,
    mark_pin_requests_mailed,
    open_pin_requests,
    pin_export_rows,
)


def register(commands: Commands) -> None:
    parser = commands.add_parser("pin-requests", help="PIN notice re-mail requests")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="open requests")
    actions.add_parser("export", help="open requests as CSV on standard output")
    mark = actions.add_parser("mark-mailed", help="close requests whose notice was mailed")
    mark.add_argument("ids", nargs="+", type=int, metavar="ID")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    with open_runtime(settings) as runtime:
        if args.action == "list":
            list_open(runtime)
        elif args.action == "export":
            export_csv(runtime)
        else:
            marked = mark_pin_requests_mailed(runtime, args.ids)
            print(f"marked {counted(len(marked), 'request')} mailed: " + ", ".join(map(str, marked)))
    return 0


def list_open(runtime: Runtime) -> None:
    rows = open_pin_requests(runtime)
    if not rows:
        print("no open PIN re-mail requests")
        return
    print(
        table(
            ("id", "person id", "name", "requested at (UTC)", "via"),
            [(r.id, r.person_id, full_name(p), iso(r.requested_at), r.channel) for r, p in rows],
        )
    )
    print(f"{counted(len(rows), 'open request')}")


def export_csv(runtime: Runtime) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(PIN_EXPORT_COLUMNS)
    writer.writerows(pin_export_rows(open_pin_requests(runtime)))
    sys.stdout.flush()
