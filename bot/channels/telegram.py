"""Telegram: python-telegram-bot 22 inside csbot's own Starlette app.

Webhook mode (the default; `csbot serve`):
    POST /telegram/webhook
    1. X-Telegram-Bot-Api-Secret-Token must equal TELEGRAM_WEBHOOK_SECRET (constant-time
       compare) before the body is even read: otherwise 403, nothing parsed or recorded.
    2. Body at most 1 MB (413), JSON (400 otherwise), an Update (400 otherwise).
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

Rendering an engine Outcome: each Reply is a sendMessage with its choices as inline buttons
(callback_data is the choice's word, which comes back as the text of the next message);
a Reply's document is rendered to PDF and sent with sendDocument after the text; a reply
that gives the NY.gov registration or sign-in address is followed by that page's QR code
(sendPhoto); an inbound message that carried an SSN or PIN is deleted (deleteMessage) and a
short note says so. Rate limits: AIORateLimiter paces sends and waits retry_after on 429.

Only private chats are served: in a group, account data would reach every member.
Logs never hold the token (bot.logs quiets httpx and redacts token shapes) nor update
bodies (PTB logs API parameters at DEBUG, so `telegram` loggers are kept at INFO or above).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
import secrets
import traceback
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.channels.base import Channel, InboundMessage, Outcome
from bot.documents.access import DocumentNotFound, open_document
from bot.documents.qr import REGISTRATION_URL, SIGNIN_URL, registration_qr, signin_qr
from bot.errors import ConfigError, DatabaseUnavailable
from bot.i18n import LOCALES, normalise_locale, translator
from bot.runtime import Runtime
from dialogs.replies import Reply
from dialogs.text import N_

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_UPDATE_BYTES = 1024 * 1024
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one text message
MAX_CALLBACK_DATA_BYTES = 64
RATE_LIMIT_RETRIES = 3  # 429s answered by waiting retry_after, then trying again
CONNECT_RETRY_SECONDS = 15.0
# Failures that mean "the database is not answering now": worth a redelivery.
_TRANSIENT = (OperationalError, InterfaceError, PoolTimeoutError, DatabaseUnavailable)

# The command menu (setMyCommands): command -> description. Every word of the interface's
# table has a /command (dialogs.words.COMMANDS); these are the ones worth listing.
MENU_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Start and sign in")),
    ("menu", N_("Main menu")),
    ("balance", N_("Account balance")),
    ("payments", N_("Payment history")),
    ("disbursements", N_("Payments sent to you (disbursements)")),
    ("statement", N_("Account statement")),
    ("coupon", N_("Payment coupon")),
    ("notice", N_("Monthly notice")),
    ("pdf", N_("Printable payment history (PDF)")),
    ("office", N_("Email your local office")),
    ("pin", N_("Have your PIN notice mailed again")),
    ("english", N_("Answer in English")),
    ("francais", N_("Answer in French")),
    ("logout", N_("Sign out")),
    ("help", N_("Help and contact")),
)


class _Transient(Exception):
    """The update could not be handled now and nothing was recorded: ask for a redelivery."""


@dataclass(frozen=True)
class _Inbound:
    message: InboundMessage
    chat_id: int
    message_id: int | None  # the parent's message (None for a button press)
    callback_query_id: str | None


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
    def __init__(self, runtime: Runtime, engine: Any, *, polling: bool = False) -> None:
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
        if polling:
            self.application.add_handler(TypeHandler(Update, self._on_polled_update))
            self.application.add_error_handler(self._on_ptb_error)
        self.routes: list[BaseRoute] = [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]
        self._ready = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None
        _keep_telegram_logs_quiet()

    @property
    def bot(self):  # type: ignore[no-untyped-def]
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
            commands = [BotCommand(name, _(description)) for name, description in MENU_COMMANDS]
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
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return Response(status_code=400)
        try:
            update = Update.de_json(data, self.bot)
        except Exception:
            log.warning("Telegram webhook: a body that is not an Update")
            return Response(status_code=400)
        try:
            await self.process(update, may_retry=True)
        except _Transient:
            return Response(status_code=503)
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
        error_id = secrets.token_hex(4).upper()
        try:
            outcome: Outcome = await anyio.to_thread.run_sync(self.engine.handle, inbound.message)
        except _TRANSIENT as exc:
            _log_failure("engine (database unavailable)", error_id, exc)
            if may_retry:
                raise _Transient() from None
            await self._answer_button(inbound)
            await self._apologise(inbound, error_id)
            return
        except Exception as exc:  # a bug: a redelivery would fail the same way
            _log_failure("engine", error_id, exc)
            await self._answer_button(inbound)
            await self._apologise(inbound, error_id)
            return
        if outcome.duplicate:
            return  # acknowledged before; nothing more to do or say
        await self._answer_button(inbound)
        try:
            await self.render(inbound, outcome)
        except Exception as exc:
            # The engine has recorded the step: a redelivery would be a duplicate, so
            # answering 200 loses only what could not be sent now.
            _log_failure("sending replies", error_id, exc)
            await self._apologise(inbound, error_id)

    async def _answer_button(self, inbound: _Inbound) -> None:
        if inbound.callback_query_id is None:
            return
        try:
            await self.bot.answer_callback_query(inbound.callback_query_id)
        except TelegramError as exc:  # e.g. a query older than Telegram keeps them
            log.info("Telegram: callback query not answered (%s)", type(exc).__name__)

    async def _apologise(self, inbound: _Inbound, error_id: str) -> None:
        hint = normalise_locale(inbound.message.locale_hint)
        languages = [hint] if hint else list(LOCALES)
        text = "\n".join(
            translator(code).gettext(
                "Sorry, something went wrong on our side. Please try again in a few minutes."
                " (Error {error_id})"
            ).format(error_id=error_id)
            for code in languages
        )
        try:
            await self.bot.send_message(inbound.chat_id, text)
        except Exception as exc:
            log.error("Telegram: apology %s not sent (%s)", error_id, type(exc).__name__)

    # --- rendering ------------------------------------------------------------------------------

    async def render(self, inbound: _Inbound, outcome: Outcome) -> None:
        if outcome.duplicate or outcome.silent:
            return
        chat_id = inbound.chat_id
        _ = translator(outcome.locale).gettext
        if outcome.inbound_was_secret and inbound.message_id is not None:
            if await self._delete(chat_id, inbound.message_id):
                note = _("For your safety, I deleted the message with your number.")
            else:
                note = _("For your safety, please delete the message with your number from this chat.")
            await self.bot.send_message(chat_id, note)
        for reply in outcome.replies:
            await self._send_reply(chat_id, reply, outcome.locale)

    async def _delete(self, chat_id: int, message_id: int) -> bool:
        try:
            return bool(await self.bot.delete_message(chat_id, message_id))
        except TelegramError as exc:  # too old (48 h) or already gone
            log.warning("Telegram: a message with a secret could not be deleted (%s)", type(exc).__name__)
            return False

    async def _send_reply(self, chat_id: int, reply: Reply, locale: str) -> None:
        _ = translator(locale).gettext
        parts = split_text(reply.text)
        keyboard = keyboard_for(reply)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self.bot.send_message(chat_id, part, reply_markup=keyboard if last else None)
        if not parts and keyboard is not None:
            await self.bot.send_message(chat_id, "…", reply_markup=keyboard)
        if reply.document is not None:
            await self._send_document(chat_id, reply)
        # The source page gives these two pages as QR codes; so does the bot.
        if REGISTRATION_URL in reply.text:
            await self.bot.send_photo(
                chat_id, registration_qr(), caption=_("Scan to create a NY.gov account."),
                filename="ny-gov-registration.png",
            )
        if SIGNIN_URL in reply.text:
            await self.bot.send_photo(
                chat_id, signin_qr(),
                caption=_("Scan to sign in with NY.gov and link your child support account."),
                filename="ny-gov-sign-in.png",
            )

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


# --- pieces, testable alone --------------------------------------------------------------------


def inbound_from_update(update: Update) -> _Inbound | None:
    """The engine's message for a private chat's text message or button press, else None."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or chat.type != "private" or user is None or user.is_bot:
        return None
    query = update.callback_query
    if query is not None:
        text, message_id, query_id = query.data or "", None, query.id
    elif update.message is not None:
        message = update.message
        # A photo or sticker has no text: the engine answers "" with what can be asked.
        text, message_id, query_id = message.text or message.caption or "", message.message_id, None
    else:
        return None
    inbound = InboundMessage(
        channel=Channel.TELEGRAM,
        sender=str(chat.id),
        text=text,
        delivery_id=str(update.update_id),
        locale_hint=user.language_code,
    )
    return _Inbound(inbound, chat.id, message_id, query_id)


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


def _log_failure(stage: str, error_id: str, exc: BaseException) -> None:
    """Where it failed, never what the message said: exception texts can quote parameters."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    where = " <- ".join(
        f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(frames)
    )
    log.error("Telegram update failed in %s, error id %s: %s at %s", stage, error_id, type(exc).__name__, where or "?")


def telegram_component(runtime: Runtime, engine: Any, polling: bool = False) -> TelegramComponent | None:
    """The Telegram route and bot, or None (route off, 404) without TELEGRAM_BOT_TOKEN."""
    if not runtime.settings.telegram_bot_token:
        return None
    runtime.settings.check_channels()  # the webhook secret is required with the token
    return TelegramComponent(runtime, engine, polling=polling)
