"""Telegram: python-telegram-bot 22 inside csbot's own Starlette app.

Webhook mode (the default; `csbot serve`):
    POST /telegram/webhook
    1. X-Telegram-Bot-Api-Secret-Token must equal TELEGRAM_WEBHOOK_SECRET (constant-time
       compare) before the body is even read: otherwise 403, nothing parsed or recorded.
    2. Body at most 1 MB (413), a JSON object with an integer update_id (400 otherwise).
       Anything else odd about it (fields of the wrong type, an update python-telegram-bot
       cannot read, a group chat) is acknowledged with 200 and ignored, logged without its
       content: Telegram would only deliver it again, forever.
    3. The update is handled completely (engine step, every reply sent) before the answer,
       so a crash before the 200 makes Telegram deliver it again; the engine acknowledges a
       repeated update_id without acting on it again.
    4. A database that does not answer (OperationalError, DatabaseUnavailable): 503 with
       nothing recorded, so Telegram redelivers later. Any other failure: logged with an
       error id (never the update's content), a short apology in the chat, and 200, since
       a redelivery would fail the same way forever.
At start-up the bot registers the webhook (only when CSBOT_PUBLIC_URL is https) with its
secret and allowed updates, and the command menu in English (default) and French.

Polling mode (`csbot serve --telegram-polling`, for operators without a public https URL):
the webhook is deleted and updates are fetched with getUpdates in the background; the same
handling applies (a transient failure gets an apology, as polling cannot ask for a
redelivery).

Replies are sent by bot.channels.telegram.render. Rate limits: AIORateLimiter paces sends and
waits retry_after on 429.

Only private chats are served: in a group, account data would reach every member.
Logs never hold the token (bot.logs quiets httpx and redacts token shapes) nor update
bodies (PTB logs API parameters at DEBUG, so `telegram` loggers are kept at INFO or above).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

import anyio
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import Bot, BotCommand, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.channels.base import log_failure, new_error_id
from bot.channels.telegram.render import TelegramInbound, TelegramReplies
from bot.conversation.engine import ConversationEngine
from bot.conversation.turn import Channel, InboundMessage, Outcome
from bot.errors import ConfigError, DatabaseUnavailable
from bot.i18n import LOCALES, translator
from bot.runtime import Runtime
from dialogs.vocabulary import COMMAND_MENU

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_UPDATE_BYTES = 1024 * 1024
ALLOWED_UPDATES = ["message", "callback_query"]
RATE_LIMIT_RETRIES = 3  # 429s answered by waiting retry_after, then trying again
CONNECT_RETRY_SECONDS = 15.0
# Failures that mean "the database is not answering now": worth a redelivery.
_TRANSIENT = (OperationalError, InterfaceError, PoolTimeoutError, DatabaseUnavailable)


class _Transient(Exception):
    """The update could not be handled now and nothing was recorded: ask for a redelivery."""


def file_base_url(base_url: str) -> str:
    """Telegram's file URL for a Bot API base URL: .../bot -> .../file/bot."""
    base = base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file"


def _keep_telegram_logs_quiet() -> None:
    # PTB logs every API call's parameters (message texts) and raw updates at DEBUG.
    for name in ("telegram", "telegram.ext", "telegram.ext.Updater", "telegram.ext.ExtBot"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


class TelegramComponent:
    def __init__(self, runtime: Runtime, engine: ConversationEngine, *, polling: bool = False) -> None:
        settings = runtime.settings
        assert settings.telegram_bot_token  # telegram_component checks before building
        self.runtime = runtime
        self.engine = engine
        self.polling = polling
        self._secret = (settings.telegram_webhook_secret or "").encode("utf-8")
        builder = (
            Application.builder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_api_base_url)
            .base_file_url(file_base_url(settings.telegram_api_base_url))
            .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
            .connect_timeout(10)
            .read_timeout(30)
            .write_timeout(30)
            .media_write_timeout(60)
        )
        if not polling:
            builder = builder.updater(None)  # webhook updates arrive through our own route
        self.application = builder.build()
        self.replies = TelegramReplies(self.application.bot, runtime)
        if polling:
            self.application.add_handler(TypeHandler(Update, self._on_polled_update))
            self.application.add_error_handler(self._on_ptb_error)
        self.routes: list[BaseRoute] = [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]
        self._ready = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None
        _keep_telegram_logs_quiet()

    @property
    def bot(self) -> Bot:
        return self.application.bot

    # --- start and stop ------------------------------------------------------------------

    async def startup(self) -> None:
        try:
            await self._connect()
        except InvalidToken:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN was refused by the Telegram Bot API (check the token from"
                " @BotFather and TELEGRAM_API_BASE_URL)"
            ) from None
        except (NetworkError, TimedOut) as exc:
            # SMS and documents keep working; Telegram joins when its API answers.
            log.error(
                "Telegram Bot API unreachable at start-up (%s); retrying every %d s",
                type(exc).__name__, CONNECT_RETRY_SECONDS,
            )
            self._connector = asyncio.create_task(self._keep_connecting())

    async def _keep_connecting(self) -> None:
        while not self._ready.is_set():
            await asyncio.sleep(CONNECT_RETRY_SECONDS)
            try:
                await self._connect()
            except (NetworkError, TimedOut) as exc:
                log.warning("Telegram Bot API still unreachable (%s)", type(exc).__name__)
            except TelegramError as exc:
                log.error("Telegram start-up failed: %s", type(exc).__name__)
                return

    async def _connect(self) -> None:
        app = self.application
        await app.initialize()  # getMe: proves the token
        if self.polling:
            await app.bot.delete_webhook(drop_pending_updates=False)
            assert app.updater is not None
            await app.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, error_callback=self._on_polling_error
            )
            await app.start()
            log.info("Telegram: polling for updates (webhook deleted)")
        else:
            await self._register_webhook()
        await self._register_commands()
        self._ready.set()

    async def _register_webhook(self) -> None:
        public_url = self.runtime.settings.public_url
        if not public_url.startswith("https://"):
            log.warning(
                "Telegram: CSBOT_PUBLIC_URL is not https, so no webhook was registered; Telegram"
                " only delivers to https (use csbot serve --telegram-polling locally)"
            )
            return
        try:
            await self.bot.set_webhook(
                url=public_url + WEBHOOK_PATH,
                secret_token=self.runtime.settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("Telegram: webhook registered at %s%s", public_url, WEBHOOK_PATH)
        except (NetworkError, TimedOut):
            raise
        except TelegramError as exc:
            # Telegram's own description (e.g. a secret with characters it refuses); no token.
            log.error("Telegram refused the webhook registration: %s", exc.message)

    async def _register_commands(self) -> None:
        for language in LOCALES:
            _ = translator(language).gettext
            commands = [BotCommand(name, _(description)) for name, description in COMMAND_MENU]
            # English is the default menu; French for clients whose language is French.
            code = None if language == "en" else language
            try:
                await self.bot.set_my_commands(commands, language_code=code)
            except (NetworkError, TimedOut):
                raise
            except TelegramError as exc:
                log.error("Telegram refused the command menu (%s): %s", language, exc.message)

    async def shutdown(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            try:
                await self._connector
            except (asyncio.CancelledError, Exception):
                pass
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except Exception as exc:  # closing connections must not block the service's exit
            log.warning("Telegram shutdown: %s", type(exc).__name__)

    # --- the webhook -----------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if not self._secret or given is None or not hmac.compare_digest(
            given.encode("latin-1"), self._secret
        ):
            return Response(status_code=403)
        if not self._ready.is_set():
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
            outcome: Outcome = await anyio.to_thread.run_sync(self.engine.handle, inbound.message)
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
        await self.replies.answer_button(inbound)
        try:
            await self.replies.render(inbound, outcome)
        except Exception as exc:
            # The engine has recorded the step: a redelivery would be a duplicate, so
            # answering 200 loses only what could not be sent now.
            log_failure(log, "Telegram replies", error_id, exc)
            await self.replies.apologise(inbound, error_id)

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


def telegram_component(runtime: Runtime, engine: ConversationEngine, polling: bool = False) -> TelegramComponent | None:
    """The Telegram route and bot, or None (route off, 404) without TELEGRAM_BOT_TOKEN."""
    if not runtime.settings.telegram_bot_token:
        return None
    runtime.settings.check_channels()  # the webhook secret is required with the token
    return TelegramComponent(runtime, engine, polling=polling)
