"""`csbot outbound list [--status queued|sent|failed]`: the outbound queue for staff. Kind,
channel, masked recipient (its last four characters), status, attempts and times; never the
text of a message, which can hold account details."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from bot.commands import Commands
from bot.commands.output import counted, table
from bot.config import Settings
from bot.outbound.queue import FAILED, QUEUED, SENDING, SENT, SUPPRESSED
from bot.outbound.worker import mask
from bot.runtime import Runtime, open_runtime
from bot.services.staff_work import iso
from bot.store.models import OutboundMessage

# What each --status shows: "queued" is everything still to send, "sent" everything that left
# (and what Twilio said of it), "failed" everything that will not be sent.
STATUS_GROUPS = {
    QUEUED: (QUEUED, SENDING),
    SENT: (SENT, "delivered"),
    FAILED: (FAILED, "undelivered", SUPPRESSED),  # "failed" covers Twilio's "failed" too
}
LIMIT = 500


def register(commands: Commands) -> None:
    parser = commands.add_parser("outbound", help="messages the bot sends first (the outbound queue)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help=f"the newest {LIMIT} queued messages, without their text")
    listing.add_argument("--status", choices=sorted(STATUS_GROUPS))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    with open_runtime(settings) as runtime:
        list_messages(runtime, args.status)
    return 0


def list_messages(runtime: Runtime, status: str | None) -> None:
    # The columns are named one by one: the payload (the text) is never even read.
    query = select(
        OutboundMessage.id, OutboundMessage.kind, OutboundMessage.channel, OutboundMessage.recipient,
        OutboundMessage.status, OutboundMessage.attempts, OutboundMessage.created_at,
        OutboundMessage.next_attempt_at, OutboundMessage.sent_at,
    ).order_by(OutboundMessage.id.desc()).limit(LIMIT)
    if status is not None:
        query = query.where(OutboundMessage.status.in_(STATUS_GROUPS[status]))
    with runtime.sessions() as session:
        rows = session.execute(query).all()
    if not rows:
        print("no outbound messages" + (f" with status {status}" if status else ""))
        return
    print(table(
        ("id", "kind", "channel", "to", "status", "attempts", "queued at (UTC)", "next attempt (UTC)", "sent at (UTC)"),
        [
            (r.id, r.kind, r.channel, mask(r.recipient), r.status, r.attempts, iso(r.created_at),
             iso(r.next_attempt_at) if r.status in (QUEUED, SENDING) else "-", iso(r.sent_at))
            for r in rows
        ],
    ))
    print(counted(len(rows), "message"))
