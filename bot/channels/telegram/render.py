"""Telegram replies: an engine Outcome as Bot API calls.

Each Reply is a sendMessage with its choices as inline buttons (callback_data is the choice's
word, which comes back as the text of the next message); a Reply's document is rendered to
PDF and sent with sendDocument after the text; a Reply's links (web pages it points to) follow
as QR codes (sendPhoto); an inbound message that carried an SSN or PIN is deleted
(deleteMessage) and a short note says so.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial

import anyio
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.channels.base import apology_text, secret_note
from bot.conversation.turn import Channel, InboundMessage, Outcome
from bot.documents.access import DocumentNotFound, open_document
from bot.documents.qr import qr_png
from bot.i18n import normalise_locale
from bot.runtime import Runtime
from dialogs.replies import Reply

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one text message
MAX_CALLBACK_DATA_BYTES = 64


@dataclass(frozen=True)
class TelegramInbound:
    """An update as the engine's message, with what replying to it needs."""

    message: InboundMessage
    chat_id: int
    message_id: int | None  # the parent's message (None for a button press)
    callback_query_id: str | None


class TelegramReplies:
    def __init__(self, bot: Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime

    async def answer_button(self, inbound: TelegramInbound) -> None:
        if inbound.callback_query_id is None:
            return
        try:
            await self.bot.answer_callback_query(inbound.callback_query_id)
        except TelegramError as exc:  # e.g. a query older than Telegram keeps them
            log.info("Telegram: callback query not answered (%s)", type(exc).__name__)

    async def apologise(self, inbound: TelegramInbound, error_id: str) -> None:
        text = apology_text(normalise_locale(inbound.message.locale_hint), error_id)
        try:
            await self.bot.send_message(inbound.chat_id, text)
        except Exception as exc:
            log.error("Telegram: apology %s not sent (%s)", error_id, type(exc).__name__)

    async def render(self, inbound: TelegramInbound, outcome: Outcome) -> None:
        if outcome.duplicate or outcome.silent:
            return
        chat_id = inbound.chat_id
        if outcome.inbound_was_secret and inbound.message_id is not None:
            deleted = await self._delete(chat_id, inbound.message_id)
            await self.bot.send_message(chat_id, secret_note(outcome.locale, deleted=deleted))
        for reply in outcome.replies:
            await self._send_reply(chat_id, reply)

    async def _delete(self, chat_id: int, message_id: int) -> bool:
        try:
            return bool(await self.bot.delete_message(chat_id, message_id))
        except TelegramError as exc:  # too old (48 h) or already gone
            log.warning("Telegram: a message with a secret could not be deleted (%s)", type(exc).__name__)
            return False

    async def _send_reply(self, chat_id: int, reply: Reply) -> None:
        parts = split_text(reply.text)
        keyboard = keyboard_for(reply)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self.bot.send_message(chat_id, part, reply_markup=keyboard if last else None)
        if not parts and keyboard is not None:
            await self.bot.send_message(chat_id, "…", reply_markup=keyboard)
        if reply.document is not None:
            await self._send_document(chat_id, reply)
        # The source page gives its web pages as QR codes; so does the bot.
        for link in reply.links:
            await self.bot.send_photo(chat_id, qr_png(link.url), caption=link.caption, filename=link.filename)

    async def _send_document(self, chat_id: int, reply: Reply) -> None:
        assert reply.document is not None
        now = dt.datetime.now(dt.UTC)
        try:
            filename, pdf = await anyio.to_thread.run_sync(
                partial(
                    open_document, self.runtime, reply.document,
                    channel=Channel.TELEGRAM.value, sender=str(chat_id), now=now,
                )
            )
        except DocumentNotFound:
            # The dialogs offered a record this person may not open: a bug, never shown.
            log.error("Telegram: an offered %s document was refused", reply.document.kind)
            return
        await self.bot.send_document(chat_id, pdf, filename=filename)


def keyboard_for(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's choices as inline buttons, one a row (labels can be long)."""
    rows = [
        [InlineKeyboardButton(choice.label[:64] or choice.word, callback_data=choice.word)]
        for choice in reply.choices
        if 0 < len(choice.word.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
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
