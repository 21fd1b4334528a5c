"""The terminal channel behind `csbot chat` and `csbot demo`.

The same engine and dialogs as the real channels, rendered the way the named channel would:
SMS through the SMS renderer (GSM-7 folding, two-segment messages, document links), Telegram
with its buttons, documents and deleted secret messages described in brackets.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from collections.abc import Iterable, Iterator
from typing import TextIO

from bot.channels.base import apology_text, log_failure, new_error_id, secret_note
from bot.channels.sms.render import render_outcome
from bot.config import Settings
from bot.conversation.engine import ConversationEngine
from bot.conversation.turn import Channel, InboundMessage, Outcome
from bot.documents.links import document_url
from bot.runtime import Runtime

DEMO_SENDER = "+12125550199"  # a 555 number: never a real phone
log = logging.getLogger(__name__)


def chat(
    runtime: Runtime, *, as_channel: str, sender: str | None, lines: Iterable[str], out: TextIO
) -> None:
    channel = Channel.SMS if as_channel == "sms" else Channel.TELEGRAM
    who = sender or (DEMO_SENDER if channel is Channel.SMS else "console-" + getpass.getuser())
    engine = ConversationEngine(runtime)
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\n")
        if not text.strip():
            continue
        delivery = f"console-{dt.datetime.now(dt.UTC).timestamp()}-{number}"
        try:
            outcome = engine.handle(InboundMessage(channel, who, text, delivery_id=delivery))
        except Exception as exc:  # like the real channels: an apology, and the chat goes on
            error_id = new_error_id()
            log_failure(log, "Terminal chat", error_id, exc)
            print("bot> " + apology_text(_known_locale(engine, channel, who), error_id), file=out)
            continue
        for printed in render(runtime.settings, channel, outcome):
            print(printed, file=out)
        out.flush()


def _known_locale(engine: ConversationEngine, channel: Channel, sender: str) -> str | None:
    try:
        return engine.locale_of(channel, sender)
    except Exception:  # the database is what failed: apologise in every language
        return None


def render(settings: Settings, channel: Channel, outcome: Outcome) -> list[str]:
    if outcome.duplicate or outcome.silent:
        return ["  (no reply)"]
    if channel is Channel.SMS:
        return [f"bot> {text}" for text in _sms_texts(settings, outcome)]
    return _telegram_texts(outcome)


def _sms_texts(settings: Settings, outcome: Outcome) -> list[str]:
    now = dt.datetime.now(dt.UTC)
    return render_outcome(outcome, settings.sms_encoding, lambda ref: document_url(settings, ref, now))


def _telegram_texts(outcome: Outcome) -> list[str]:
    printed: list[str] = []
    if outcome.inbound_was_secret:
        printed.append("  [" + secret_note(outcome.locale, deleted=True) + "]")
    for reply in outcome.replies:
        printed.append("bot> " + reply.text)
        if reply.choices:
            printed.append("     " + "  ".join(f"[{c.label} → {c.word}]" for c in reply.choices))
        if reply.document is not None:
            printed.append(f"     [PDF: {reply.document.kind}-{reply.document.record_id}.pdf]")
    return printed


def input_lines(stream: TextIO) -> Iterator[str]:
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
