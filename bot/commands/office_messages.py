"""`csbot office-messages list [--all] | retry ID... | reply REFERENCE [--text TEXT] | unmatched`:
parents' messages to their offices, and the offices' answers."""

from __future__ import annotations

import argparse
import getpass
import imaplib
import sys

from bot.commands import Commands
from bot.commands.output import counted, table
from bot.config import Settings
from bot.errors import CommandError, ConfigError
from bot.office_answers.imap import IMAP_VARIABLES, Mailbox, MailboxError
from bot.runtime import Runtime, open_runtime
from bot.services.staff_work import answer_office_message, iso, office_messages, retry_office_messages


def register(commands: Commands) -> None:
    parser = commands.add_parser("office-messages", help="parents' messages to their offices (the outbox)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="messages not yet sent (--all for every message)")
    listing.add_argument("--all", action="store_true")
    retry = actions.add_parser("retry", help="queue failed messages again")
    retry.add_argument("ids", nargs="+", type=int, metavar="ID")
    answer = actions.add_parser("reply", help="answer a parent's message (the text on standard input, or --text)")
    answer.add_argument("reference", metavar="REFERENCE")
    answer.add_argument("--text", help="the answer (default: read from standard input)")
    answer.add_argument("--by", help="who answers (default: your login name)")
    actions.add_parser("unmatched", help="reply mails left flagged in the reply mailbox (matched nothing, refused)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    with open_runtime(settings) as runtime:
        if args.action == "list":
            list_messages(runtime, include_sent=args.all)
        elif args.action == "reply":
            text = args.text if args.text is not None else sys.stdin.read()
            reply(runtime, args.reference, text, args.by or _login())
        elif args.action == "unmatched":
            list_unmatched(runtime)
        else:
            queued = retry_office_messages(runtime, args.ids)
            print(f"queued {counted(len(queued), 'message')} again: " + ", ".join(map(str, queued)))
    return 0


def _login() -> str:
    try:
        return "staff:" + getpass.getuser()
    except (KeyError, OSError):  # no login name in a container
        return "staff"


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


def reply(runtime: Runtime, reference: str, text: str, author: str) -> None:
    """Record staff's answer, mark the message answered and queue the parent's notice (the
    staff desk answers through the same `answer_office_message`)."""
    recorded = answer_office_message(runtime, reference, text, author=author)
    print(f"answer to {recorded.reference} recorded (status answered); {_describe_notice(recorded.notice)}")


def _describe_notice(notice: str) -> str:
    if notice in ("sms", "telegram"):
        return f"the parent is told by {notice} (the notice names the reference only)"
    return notice


def list_unmatched(runtime: Runtime) -> None:
    if not runtime.settings.imap_enabled:
        raise ConfigError(f"CSBOT_IMAP_HOST is not set: there is no reply mailbox to look in ({IMAP_VARIABLES})")
    try:
        with Mailbox(runtime.settings) as mailbox:
            mails = mailbox.flagged()
    except (OSError, imaplib.IMAP4.error, MailboxError) as exc:
        raise CommandError(f"cannot read the reply mailbox: {type(exc).__name__}: {exc}") from None
    if not mails:
        print("no unmatched reply mail")
        return
    print(table(("uid", "date", "from", "subject", "why"),
                [(m.uid, m.date, m.sender, m.subject[:60], m.reason) for m in mails]))
    print(f"{counted(len(mails), 'mail')} left flagged in {runtime.settings.imap_mailbox}: answer with"
          " `csbot office-messages reply REFERENCE`, then unflag or delete the mail")
