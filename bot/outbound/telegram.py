"""Telegram messages from the outbound queue, through the Bot API (python-telegram-bot's Bot).

Each queued message is one Bot API call, so a retry repeats only what failed:
- "delete": deleteMessage (a parent's message that held an SSN or PIN), then the note that
  says so (bot/channels/base.py secret_note; "please delete it" when it could not be deleted).
- otherwise: sendMessage with the choices as inline buttons; or sendDocument, the PDF rendered
  now with bot/documents/access.py open_document (which audits the view); or sendPhoto, a
  link's QR code. `enqueue_replies` queues an engine Outcome in that shape.

Rates: 30 calls a second per bot, and about one a second per chat (bursts of a few, as a
conversation needs). Outcomes: 429 -> TryAgain(after=retry_after); 5xx, timeouts, no answer
-> TryAgain; 403 (the chat blocked the bot) -> Refused(unreachable=True), which marks the chat
unreachable; any other 400 -> Refused. The Bot API takes no idempotency key for a send.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from functools import partial
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.channels.base import secret_note
from bot.channels.telegram.startup import file_base_url
from bot.config import Settings
from bot.conversation.turn import Channel
from bot.documents.access import DocumentNotFound, open_document
from bot.documents.qr import qr_png
from bot.outbound.messages import Claimed, Kind, Outcome, Refused, Sent, TryAgain, enqueue
from bot.outbound.pacing import Pacer, PerKey
from bot.outbound.queue import OutboundPolicy
from bot.runtime import Runtime
from dialogs.replies import DocumentKind, DocumentRef, Reply

log = logging.getLogger("csbot.outbound")

MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one text message
MAX_CALLBACK_DATA_BYTES = 64
PER_BOT_PER_SECOND = 30.0
PER_CHAT_PER_SECOND = 1.0
PER_CHAT_BURST = 10.0  # a sign-in's delete, note and answer leave at once
SENDS_IN_FLIGHT = OutboundPolicy().batch_size  # a worker sends one claimed batch at a time


# --- queueing ------------------------------------------------------------------------------


def enqueue_delete(session: Session, chat_id: str, message_id: int, locale: str, now: dt.datetime) -> None:
    enqueue(session, kind=Kind.DELETE, channel="telegram", recipient=chat_id,
            payload={"message_id": message_id, "locale": locale}, now=now)


def enqueue_replies(
    session: Session, chat_id: str, replies: tuple[Reply, ...] | list[Reply], locale: str, now: dt.datetime,
    kind: Kind = Kind.REPLY,
) -> None:
    """Each reply as queued messages of one Bot API call each, in order: its text (split at
    Telegram's limit, the buttons on the last part), its document, its links' QR codes."""
    def add(text: str = "", choices: list[list[str]] | None = None, document: dict[str, str] | None = None,
            links: list[list[str]] | None = None) -> None:
        payload: dict[str, Any] = {"text": text, "choices": choices or [], "document": document,
                                   "links": links or [], "locale": locale}
        enqueue(session, kind=kind, channel="telegram", recipient=chat_id, payload=payload, now=now)

    for reply in replies:
        parts = split_text(reply.text)
        choices = [[c.label, c.word] for c in reply.choices]
        if not parts and choices:
            parts = ["…"]
        for index, part in enumerate(parts):
            add(part, choices if index == len(parts) - 1 else None)
        if reply.document is not None:
            ref = reply.document
            add(document={"kind": str(ref.kind), "person_id": ref.person_id, "record_id": ref.record_id,
                          "locale": ref.locale})
        for link in reply.links:
            add(links=[[link.url, link.caption, link.filename]])


# --- rendering -------------------------------------------------------------------------------


def keyboard_for(choices: list[list[str]]) -> InlineKeyboardMarkup | None:
    """Choices ([label, word]) as inline buttons, one a row (labels can be long)."""
    rows = [
        [InlineKeyboardButton(label[:64] or word, callback_data=word)]
        for label, word in choices
        if 0 < len(word.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Text in messages of at most `limit` characters, split at line breaks when possible."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    if text:
        parts.append(text)
    return parts


# --- sending ---------------------------------------------------------------------------------


class TelegramSender:
    channel = "telegram"

    def __init__(self, runtime: Runtime, bot: Bot) -> None:
        self.runtime = runtime
        self.bot = bot  # a plain Bot: 429s come back here, not waited out inside the client
        self.per_bot = Pacer(PER_BOT_PER_SECOND, PER_BOT_PER_SECOND)
        self.per_chat = PerKey(PER_CHAT_PER_SECOND, PER_CHAT_BURST)

    async def send(self, message: Claimed) -> Outcome:
        try:
            chat_id = int(message.recipient)
        except ValueError:
            return Refused("not a Telegram chat id")
        await self.per_chat(message.recipient).wait()
        await self.per_bot.wait()
        try:
            if message.kind == Kind.DELETE:
                return await self._delete(chat_id, message.payload)
            return await self._send(chat_id, message.payload)
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB 22 warns that an int retry_after is deprecated
                warnings.simplefilter("ignore")
                after = _as_delta(exc.retry_after)
            return TryAgain("Bot API 429", after=after)
        except Forbidden as exc:
            return Refused(f"Bot API 403 {type(exc).__name__}", unreachable=True)
        except BadRequest as exc:  # before NetworkError: BadRequest is one of its kinds
            return Refused(f"Bot API 400 {type(exc).__name__}")
        except TelegramError as exc:  # NetworkError (5xx, no answer), TimedOut, InvalidToken...
            return TryAgain(f"Bot API {type(exc).__name__}")

    async def _delete(self, chat_id: int, payload: dict[str, Any]) -> Outcome:
        try:
            deleted = bool(await self.bot.delete_message(chat_id, int(payload["message_id"])))
        except BadRequest as exc:  # too old (48 h) or already gone
            log.warning("Telegram: a message with a secret could not be deleted (%s)", type(exc).__name__)
            deleted = False
        note = await self.bot.send_message(chat_id, secret_note(str(payload.get("locale") or "en"), deleted=deleted))
        return _sent(note)

    async def _send(self, chat_id: int, payload: dict[str, Any]) -> Outcome:
        document = payload.get("document")
        if document:
            return await self._send_document(chat_id, document)
        links = payload.get("links") or []
        if links:
            url, caption, filename = links[0]
            return _sent(await self.bot.send_photo(chat_id, qr_png(url), caption=caption, filename=filename))
        keyboard = keyboard_for(payload.get("choices") or [])
        text = str(payload.get("text") or "") or "…"
        return _sent(await self.bot.send_message(chat_id, text, reply_markup=keyboard))

    async def _send_document(self, chat_id: int, document: dict[str, str]) -> Outcome:
        ref = DocumentRef(DocumentKind(document["kind"]), document["person_id"], document["record_id"],
                          document["locale"])
        try:
            filename, pdf = await anyio.to_thread.run_sync(
                partial(open_document, self.runtime, ref, channel=Channel.TELEGRAM.value, sender=str(chat_id),
                        now=dt.datetime.now(dt.UTC))
            )
        except DocumentNotFound:
            # The dialogs offered a record this person may not open: a bug, never shown.
            log.error("Telegram: an offered %s document was refused", ref.kind)
            return Refused("document not found")
        return _sent(await self.bot.send_document(chat_id, pdf, filename=filename))

    async def close(self) -> None:
        await self.bot.shutdown()


def _sent(message: Message | None) -> Sent:
    return Sent(provider_id=str(message.message_id) if message is not None else None)


def _as_delta(value: object) -> dt.timedelta | None:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float):
        return dt.timedelta(seconds=value)
    return None


def telegram_sender(runtime: Runtime) -> TelegramSender | None:
    settings: Settings = runtime.settings
    if not settings.telegram_bot_token:
        return None
    # httpcore checks every pooled connection on each request: PTB's default pool of 256
    # costs CPU for nothing when at most a batch is in flight.
    request = HTTPXRequest(connection_pool_size=SENDS_IN_FLIGHT, connect_timeout=10, read_timeout=30,
                           write_timeout=30, media_write_timeout=60)
    bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url,
              base_file_url=file_base_url(settings.telegram_api_base_url), request=request)
    return TelegramSender(runtime, bot)
