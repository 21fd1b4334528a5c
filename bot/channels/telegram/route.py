"""Telegram: python-telegram-bot 22 inside csbot's own Starlette app.

Webhook mode (the default; `csbot serve`):
    POST /telegram/webhook
    1. X-Telegram-Bot-Api-Secret-Token must equal TELEGRAM_WEBHOOK_SECRET (constant-time
       compare) before the body is even read: otherwise 403, nothing parsed or recorded.
    2. Body at most 1 MB (413), a JSON object with an integer update_id (400 otherwise).
       Anything else odd about it (fields of the wrong type, an update python-telegram-bot
       cannot read, a group chat) is acknowledged with 200 and ignored, logged without its
       content: Telegram would only deliver it again, forever.
    3. The engine step and the queueing of its replies commit in one transaction, then the
       webhook answers 200 at once and rings the outbound sender (bot/outbound), which sends
       the replies in order, whatever the Bot API is doing. A crash before the commit makes
       Telegram deliver the update again; the engine acknowledges a repeated update_id
       without acting on it again.
    4. A database that does not answer (OperationalError, DatabaseUnavailable): 503 with
       nothing recorded, so Telegram redelivers later. Any other failure: logged with an
       error id (never the update's content), a short apology in the chat, and 200, since
       a redelivery would fail the same way forever.
Start-up (getMe, the webhook or polling, the command menu; retries in the background, and
what stops start-up) is bot.channels.telegram.startup; until it is done the webhook is 503.

Polling mode (`csbot serve --telegram-polling`, for operators without a public https URL):
the webhook is deleted and updates are fetched with getUpdates in the background; the same
handling applies (a transient failure gets an apology, as polling cannot ask for a
redelivery).

Replies are queued by bot.channels.telegram.render and sent by bot.outbound.telegram (its
rates, 429s and retries are the queue's). What is said here directly: a button press's
acknowledgement (in the background, never delaying the answer) and an apology.

Only private chats are served: in a group, account data would reach every member.
Logs never hold the token (bot.logs quiets httpx and redacts token shapes) nor update
contents: csbot logs exception types, never texts, and every `telegram` logger carries
bot.logs.ScrubArguments (PTB's message templates without their arguments or exception texts;
PTB logs API parameters at DEBUG and an unparsable getUpdates batch at CRITICAL).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from functools import partial

import anyio
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.channels.base import log_failure, new_error_id
from bot.channels.telegram.client import CsbotBot
from bot.channels.telegram.render import TelegramInbound, TelegramReplies, queue_outcome
from bot.channels.telegram.startup import WEBHOOK_PATH, TelegramConnection, file_base_url
from bot.conversation.engine import ConversationEngine
from bot.conversation.turn import Channel, InboundMessage, Outcome
from bot.errors import DatabaseUnavailable
from bot.logs import scrub_loggers
from bot.outbound.messages import Doorbell
from bot.runtime import Runtime

log = logging.getLogger(__name__)

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_UPDATE_BYTES = 1024 * 1024
RATE_LIMIT_RETRIES = 3  # 429s answered by waiting retry_after, then trying again
# Failures that mean "the database is not answering now": worth a redelivery.
_TRANSIENT = (OperationalError, InterfaceError, PoolTimeoutError, DatabaseUnavailable)


class _Transient(Exception):
    """The update could not be handled now and nothing was recorded: ask for a redelivery."""


def _guard_telegram_logs() -> None:
    # PTB logs every API call's parameters (message texts) and raw updates at DEBUG, and an
    # unparsable getUpdates batch at CRITICAL: kept at INFO, and scrubbed at every level.
    for name in ("telegram", "telegram.ext", "telegram.ext.Updater", "telegram.ext.ExtBot"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
    scrub_loggers("telegram")


class TelegramComponent:
    def __init__(
        self, runtime: Runtime, engine: ConversationEngine, *, polling: bool = False, doorbell: Doorbell | None = None
    ) -> None:
        settings = runtime.settings
        assert settings.telegram_bot_token  # telegram_component checks before building
        self.runtime = runtime
        self.engine = engine
        self.polling = polling
        self.doorbell = doorbell or Doorbell()  # rung once replies are queued and committed
        self._background: set[asyncio.Task[None]] = set()
        self._secret = (settings.telegram_webhook_secret or "").encode("utf-8")
        bot = CsbotBot(
            settings.telegram_bot_token,
            base_url=settings.telegram_api_base_url,
            base_file_url=file_base_url(settings.telegram_api_base_url),
            request=HTTPXRequest(connect_timeout=10, read_timeout=30, write_timeout=30, media_write_timeout=60),
            get_updates_request=HTTPXRequest(connection_pool_size=1, connect_timeout=10, read_timeout=30,
                                             write_timeout=30),
            rate_limiter=AIORateLimiter(max_retries=RATE_LIMIT_RETRIES),
        )
        builder = Application.builder().bot(bot)
        if not polling:
            builder = builder.updater(None)  # webhook updates arrive through our own route
        self.application = builder.build()
        self.replies = TelegramReplies(self.application.bot, runtime)
        if polling:
            self.application.add_handler(TypeHandler(Update, self._on_polled_update))
            self.application.add_error_handler(self._on_ptb_error)
        self.routes: list[BaseRoute] = [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]
        self.connection = TelegramConnection(
            self.application, settings, polling=polling, polling_error=self._on_polling_error
        )
        _guard_telegram_logs()

    @property
    def bot(self) -> Bot:
        return self.application.bot

    @property
    def retry_seconds(self) -> float:
        """The first delay between start-up attempts (it grows after each failure)."""
        return self.connection.retry_seconds

    @retry_seconds.setter
    def retry_seconds(self, seconds: float) -> None:
        self.connection.retry_seconds = seconds

    # --- start and stop ------------------------------------------------------------------

    async def startup(self) -> None:
        await self.connection.start()

    async def shutdown(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        await self.connection.stop()

    # --- the webhook -----------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if not self._secret or given is None or not hmac.compare_digest(
            given.encode("latin-1"), self._secret
        ):
            return Response(status_code=403)
        if not self.connection.ready.is_set():
            return Response(status_code=503)  # not connected yet: Telegram will redeliver
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPDATE_BYTES:
                return Response(status_code=413)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return Response(status_code=400)
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return Response(status_code=400)
        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:
            # Only the type: the exception's text can quote the update.
            log.warning("Telegram webhook: update %d is not an Update (%s); ignored", update_id, type(exc).__name__)
            return Response(status_code=200)
        try:
            await self.process(update, may_retry=True)
        except _Transient:
            return Response(status_code=503)
        except Exception as exc:  # the last line: an odd update must never be a 5xx
            log_failure(log, "Telegram update", new_error_id(), exc)
        return Response(status_code=200)

    async def _on_polled_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            await self.process(update, may_retry=False)

    async def _on_ptb_error(self, _update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Only the type: the exception's text could quote a message.
        log.error("Telegram: unhandled error %s", type(context.error).__name__)

    def _on_polling_error(self, error: TelegramError) -> None:
        log.warning("Telegram polling: %s", type(error).__name__)

    # --- one update ---------------------------------------------------------------------------

    async def process(self, update: Update, *, may_retry: bool) -> None:
        """Handle one update completely. Raises _Transient (only when `may_retry`) when the
        database did not answer and nothing was recorded."""
        inbound = inbound_from_update(update)
        if inbound is None:
            return
        error_id = new_error_id()
        try:
            outcome: Outcome = await anyio.to_thread.run_sync(
                partial(self.engine.handle, inbound.message, deliver=partial(queue_outcome, inbound))
            )
        except _TRANSIENT as exc:
            log_failure(log, "Telegram update (database unavailable)", error_id, exc)
            if may_retry:
                raise _Transient() from None
            await self.replies.answer_button(inbound)
            await self.replies.apologise(inbound, error_id)
            return
        except Exception as exc:  # a bug: a redelivery would fail the same way
            log_failure(log, "Telegram update", error_id, exc)
            await self.replies.answer_button(inbound)
            await self.replies.apologise(inbound, error_id)
            return
        if outcome.duplicate:
            return  # acknowledged before; nothing more to do or say
        self.doorbell.ring()
        if inbound.callback_query_id is not None:
            task = asyncio.create_task(self.replies.answer_button(inbound))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

# --- pieces, testable alone --------------------------------------------------------------------


def inbound_from_update(update: Update) -> TelegramInbound | None:
    """The engine's message for a private chat's text message or button press, else None.

    python-telegram-bot keeps whatever types an update carried, so each field used is
    checked here: a field of the wrong type makes the update one to ignore, except the
    language hint, which is only dropped."""
    try:
        chat = update.effective_chat
        user = update.effective_user
        query = update.callback_query
        message = update.message
    except Exception as exc:  # a property of an odd update: only the type is logged
        log.warning("Telegram: update %s unreadable (%s); ignored", update.update_id, type(exc).__name__)
        return None
    if chat is None or chat.type != "private" or not _is_int(chat.id):
        return None
    if user is None or user.is_bot is not False:
        return None
    message_id: int | None
    query_id: str | None
    if query is not None:
        text, message_id, query_id = query.data or "", None, query.id
        if not isinstance(query_id, str):
            return None
    elif message is not None:
        # A photo or sticker has no text: the engine answers "" with what can be asked.
        text, message_id, query_id = message.text or message.caption or "", message.message_id, None
        if not _is_int(message_id):
            return None
    else:
        return None
    if not isinstance(text, str):
        return None
    hint = user.language_code if isinstance(user.language_code, str) else None
    inbound = InboundMessage(
        channel=Channel.TELEGRAM,
        sender=str(chat.id),
        text=text,
        delivery_id=str(update.update_id),
        locale_hint=hint,
    )
    return TelegramInbound(inbound, chat.id, message_id, query_id)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def telegram_component(
    runtime: Runtime, engine: ConversationEngine, polling: bool = False, doorbell: Doorbell | None = None
) -> TelegramComponent | None:
    """The Telegram route and bot, or None (route off, 404) without TELEGRAM_BOT_TOKEN."""
    if not runtime.settings.telegram_bot_token:
        return None
    runtime.settings.check_channels()  # the webhook secret is required with the token
    return TelegramComponent(runtime, engine, polling=polling, doorbell=doorbell)
