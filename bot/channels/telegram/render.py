"""Telegram replies: an engine Outcome queued for the outbound sender (bot/outbound/telegram.py
renders and sends it: buttons, PDFs, QR codes, the deletion of a message that held a secret),
plus what is still said at once: a button press's acknowledgement and an apology."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session
from telegram import Bot
from telegram.error import TelegramError

from bot.channels.base import apology_text
from bot.conversation.turn import Channel, InboundMessage, Outcome
from bot.i18n import normalise_locale
from bot.outbound.queue import clear_unreachable
from bot.outbound.telegram import enqueue_delete, enqueue_replies
from bot.runtime import Runtime

log = logging.getLogger(__name__)



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


def queue_outcome(inbound: TelegramInbound, session: Session, outcome: Outcome, now: dt.datetime) -> None:
    """The engine's `deliver` hook: queue the step's replies in the step's own transaction.
    The chat wrote to the bot, so it can be reached again; a message that held a secret is
    deleted first (its own queued message, at the top priority)."""
    chat = str(inbound.chat_id)
    clear_unreachable(session, Channel.TELEGRAM.value, chat)
    if outcome.duplicate or outcome.silent:
        return
    if outcome.inbound_was_secret and inbound.message_id is not None:
        enqueue_delete(session, chat, inbound.message_id, outcome.locale, now)
    enqueue_replies(session, chat, outcome.replies, outcome.locale, now)
