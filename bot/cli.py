"""The `csbot` command line. Each command is a thin call into the module that does the work."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import Settings, load_settings
from bot.errors import CommandError, CsbotError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csbot",
        description="Child support self-service over SMS and Telegram (English/French).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="load an account data extract (csbot-import/1)")
    p.add_argument("file", type=Path)
    p.add_argument("--replace", action="store_true", help="make the file the whole truth")
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    sub.add_parser("demo", help="load demo data into the embedded database and chat in the terminal")

    p = sub.add_parser("demo-data", help="write a large valid synthetic extract (for benchmarks)")
    p.add_argument("--cases", type=int, required=True)
    p.add_argument("--months", type=int, default=12, help="months of payments per case")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")

    p = sub.add_parser("chat", help="talk to the bot in the terminal")
    p.add_argument("--as", dest="as_channel", choices=["sms", "telegram"], default="sms")
    p.add_argument("--from", dest="sender", default=None, help="sender id (phone or chat id)")

    p = sub.add_parser("serve", help="run the HTTP service (webhooks, documents, outbox worker)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--telegram-polling",
        action="store_true",
        help="fetch Telegram updates by polling instead of a webhook (local use)",
    )

    sub.add_parser("worker", help="run the outbox worker alone (office mail)")

    p = sub.add_parser("db", help="database maintenance")
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply migrations")

    p = sub.add_parser("pin-requests", help="PIN notice re-mail requests")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s.add_parser("list", help="open requests")
    s.add_parser("export", help="open requests as CSV on standard output")
    m = s.add_parser("mark-mailed", help="close requests whose notice was mailed")
    m.add_argument("ids", nargs="+", type=int, metavar="ID")

    p = sub.add_parser("office-messages", help="parents' messages to their offices (the outbox)")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = s.add_parser("list", help="messages not yet sent (--all for every message)")
    ls.add_argument("--all", action="store_true")
    r = s.add_parser("retry", help="queue failed messages again")
    r.add_argument("ids", nargs="+", type=int, metavar="ID")

    p = sub.add_parser("lockouts", help="accounts locked after wrong PINs")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s.add_parser("list", help="locked accounts")
    u = s.add_parser("unlock", help="unlock an account now")
    u.add_argument("person_id")

    p = sub.add_parser("audit", help="who viewed which kind of record")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = s.add_parser("list")
    a.add_argument("--person")
    a.add_argument("--since", help="YYYY-MM-DD")
    a.add_argument("--limit", type=int, default=200)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return _dispatch(args, settings) or 0
    except CsbotError as exc:
        print(f"csbot: error: {exc}", file=sys.stderr)
        for line in exc.details:
            print(f"  {line}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int | None:
    command = args.command
    if command == "import":
        from bot.importer import run_import_command

        return run_import_command(settings, args.file, replace=args.replace, quiet=args.quiet)
    if command == "demo":
        from bot.channels.console import run_demo

        return run_demo(settings)
    if command == "demo-data":
        from bot.synthetic import run_demo_data_command

        return run_demo_data_command(
            cases=args.cases, months=args.months, seed=args.seed, output=args.output
        )
    if command == "chat":
        from bot.channels.console import run_chat

        return run_chat(settings, as_channel=args.as_channel, sender=args.sender)
    if command == "serve":
        from bot.web import run_serve

        return run_serve(
            settings,
            host=args.host,
            port=args.port,
            workers=args.workers,
            telegram_polling=args.telegram_polling,
        )
    if command == "worker":
        from bot.outbox import run_worker_command

        return run_worker_command(settings)
    if command == "db":
        from bot.store.session import make_engine, upgrade

        engine = make_engine(settings.database_url)
        applied = upgrade(engine)
        print("database upgraded" if applied else "database already up to date")
        return 0
    from bot import staff

    if command == "pin-requests":
        return staff.pin_requests(settings, args)
    if command == "office-messages":
        return staff.office_messages(settings, args)
    if command == "lockouts":
        return staff.lockouts(settings, args)
    if command == "audit":
        return staff.audit(settings, args)
    raise CommandError(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main())
