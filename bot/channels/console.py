"""The terminal channel: `csbot chat` and `csbot demo`.

The same engine and dialogs as the real channels, rendered the way the named channel would:
SMS through the SMS renderer (GSM-7 folding, two-segment messages, document links), Telegram
with its buttons, documents and deleted secret messages described in brackets.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from bot.channels.base import Channel, InboundMessage, Outcome
from bot.channels.sms import apology_text
from bot.config import Settings
from bot.engine import ConversationEngine
from bot.i18n import translator
from bot.runtime import Runtime, open_runtime

DEMO_DATABASE_URL = "sqlite:///csbot-demo.db"
log = logging.getLogger(__name__)


def run_chat(settings: Settings, *, as_channel: str, sender: str | None) -> int:
    logging.basicConfig(level=logging.WARNING)
    runtime = open_runtime(settings)
    try:
        chat(runtime, as_channel=as_channel, sender=sender, lines=_input_lines(sys.stdin), out=sys.stdout)
    finally:
        runtime.dispose()
    return 0


def run_demo(settings: Settings) -> int:
    """Embedded database, demo data, a throwaway key when none is set, then a chat."""
    from bot.demo import DEMO_EXTRACT, DEMO_PEOPLE
    from bot.importer.pipeline import import_extract

    logging.basicConfig(level=logging.WARNING)
    overrides: dict[str, object] = {}
    if "CSBOT_DATABASE_URL" not in os.environ:
        overrides["database_url"] = DEMO_DATABASE_URL
    if not settings.secret_key:
        # Demo only: the demo data is loaded again on every start, so a fresh key is fine.
        overrides["secret_key"] = secrets.token_urlsafe(32)
    settings = settings.model_copy(update=overrides)
    runtime = open_runtime(settings)
    try:
        import_extract(runtime, DEMO_EXTRACT)
        out = sys.stdout
        print(_demo_guide(DEMO_PEOPLE, settings.database_url), file=out)
        chat(runtime, as_channel="sms", sender="+12125550199", lines=_input_lines(sys.stdin), out=out)
    finally:
        runtime.dispose()
    return 0


def _demo_guide(people: Iterable[object], database_url: str) -> str:
    lines = [
        "csbot demo: you are a parent texting the agency (rendered as SMS).",
        f"Database: {database_url}. Try HELP, BALANCE, PAYMENTS, OFFICE, PIN, FRANCAIS, STOP.",
        "Demo parents (Social Security number / PIN):",
    ]
    for person in people:
        lines.append(f"  {person}")
    lines.append("Type a message and press Enter; Ctrl-D to quit.\n")
    return "\n".join(lines)


def chat(
    runtime: Runtime, *, as_channel: str, sender: str | None, lines: Iterable[str], out: TextIO
) -> None:
    channel = Channel.SMS if as_channel == "sms" else Channel.TELEGRAM
    who = sender or ("+12125550199" if channel is Channel.SMS else "console-" + getpass.getuser())
    engine = ConversationEngine(runtime)
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\n")
        if not text.strip():
            continue
        delivery = f"console-{dt.datetime.now(dt.UTC).timestamp()}-{number}"
        try:
            outcome = engine.handle(InboundMessage(channel, who, text, delivery_id=delivery))
        except Exception:  # like the real channels: an apology, and the chat goes on
            error_id = secrets.token_hex(4).upper()
            log.exception("console chat: message not handled (error %s)", error_id)
            print("bot> " + apology_text("en", error_id), file=out)
            continue
        for printed in render(runtime.settings, channel, outcome):
            print(printed, file=out)
        out.flush()


def render(settings: Settings, channel: Channel, outcome: Outcome) -> list[str]:
    if outcome.duplicate or outcome.silent:
        return ["  (no reply)"]
    if channel is Channel.SMS:
        return [f"bot> {text}" for text in _sms_texts(settings, outcome)]
    return _telegram_texts(outcome)


def _sms_texts(settings: Settings, outcome: Outcome) -> list[str]:
    from bot.channels.sms import merge_messages, render_reply
    from bot.doclinks import document_url

    now = dt.datetime.now(dt.UTC)
    texts: list[str] = []
    for reply in outcome.replies:
        texts += render_reply(
            reply,
            locale=outcome.locale,
            encoding=settings.sms_encoding,
            document_link=lambda ref: document_url(settings, ref, now),
        )
    return merge_messages(texts)


def _telegram_texts(outcome: Outcome) -> list[str]:
    _ = translator(outcome.locale).gettext
    printed: list[str] = []
    if outcome.inbound_was_secret:
        printed.append("  [" + _("For your safety, I deleted the message with your number.") + "]")
    for reply in outcome.replies:
        printed.append("bot> " + reply.text)
        if reply.choices:
            printed.append("     " + "  ".join(f"[{c.label} → {c.word}]" for c in reply.choices))
        if reply.document is not None:
            printed.append(f"     [PDF: {reply.document.kind}-{reply.document.record_id}.pdf]")
    return printed


def _input_lines(stream: TextIO) -> Iterator[str]:
    """Interactive: a prompt per line. Scripted (not a terminal): one message per line."""
    if not stream.isatty():
        yield from stream
        return
    while True:
        try:
            yield input("you> ")
        except EOFError:
            print()
            return
