"""`csbot alerts list [--status pending|sent|suppressed]`: alerts with their status and reason
(no consent, opted out, unreachable, quiet hours), the recipient masked to its last four
characters, never the text. `csbot alerts check-due`: the daily check for coupons due within 3
days, and the dispatch of every event not dispatched yet (`csbot serve` and `csbot worker` run
it themselves once a day; this is for cron or an operator)."""

from __future__ import annotations

import argparse
import datetime as dt

from bot.alerts.listing import STATUSES, alert_lines
from bot.alerts.runner import check_and_dispatch
from bot.commands import Commands
from bot.commands.output import counted, table
from bot.config import Settings
from bot.outbound.quiet import QuietHours
from bot.outbound.worker import mask
from bot.runtime import open_runtime
from bot.services.staff_work import iso

LIMIT = 500


def register(commands: Commands) -> None:
    parser = commands.add_parser("alerts", help="alerts parents asked for: list them, run the daily check")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help=f"the newest {LIMIT} alerts, with why each was or was not sent")
    listing.add_argument("--status", choices=STATUSES)
    actions.add_parser("check-due", help="record alerts for coupons due within 3 days and queue every alert due")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    now = dt.datetime.now(dt.UTC)
    with open_runtime(settings) as runtime:
        if args.action == "check-due":
            report = check_and_dispatch(runtime, now)
            d = report.dispatched
            print(f"{counted(report.coupon_events, 'coupon')} due within 3 days newly found;"
                  f" {counted(d.events, 'event')} dispatched: {counted(d.queued, 'alert')} queued,"
                  f" {d.suppressed} not sent (see csbot alerts list --status suppressed)")
            return 0
        quiet = QuietHours.from_settings(settings.quiet_hours, settings.timezone)
        with runtime.sessions() as session:
            lines = alert_lines(session, args.status, now, quiet, LIMIT)
    if not lines:
        print("no alerts" + (f" with status {args.status}" if args.status else ""))
        return 0
    print(table(
        ("id", "kind", "date", "channel", "to", "status", "reason", "recorded at (UTC)", "sent at (UTC)"),
        [(line.id, line.kind, line.event_date.isoformat(), line.channel or "-",
          mask(line.recipient) if line.recipient else "-", line.status, line.reason or "-",
          iso(line.created_at), iso(line.sent_at)) for line in lines],
    ))
    print(counted(len(lines), "alert"))
    return 0
