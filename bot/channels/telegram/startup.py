"""Bringing the Telegram bot online without ever holding the rest of the service up.

An attempt runs these steps, each skipped once it has succeeded, so that a retry finishes a
half-done start instead of repeating it (a second start_polling would raise "This Updater is
already running!"):
  1. getMe, through Application.initialize (python-telegram-bot does it only once);
  2. webhook mode: setWebhook (only when CSBOT_PUBLIC_URL is https);
     polling mode: start the updater (it deletes any webhook first), then the application.
Then the bot is ready (/telegram/webhook stops answering 503), and the command menu
(setMyCommands, English as the default and French) is set in the background: it is optional,
so its failures are logged and retried a few times but never hold readiness back.

What a failure does:
  - InvalidToken on the first attempt (401/404 from getMe): ConfigError, one line, and
    `csbot serve` does not start: it is an operator's mistake. On a later attempt (the token
    revoked meanwhile): logged, and no more attempts.
  - Anything else (network, Telegram's 5xx, an answer python-telegram-bot cannot read):
    logged by exception type only (the text can quote a URL holding the token), and
    retried in the background with a growing delay until it succeeds or the service stops.
    SMS and documents never wait for Telegram.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import BotCommand
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import Application

from bot.config import Settings
from bot.errors import ConfigError
from bot.i18n import LOCALES, translator
from dialogs.vocabulary import COMMAND_MENU

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = ["message", "callback_query"]
CONNECT_RETRY_SECONDS = 15.0  # the first delay; doubled after each failure
MAX_RETRY_SECONDS = 300.0
MENU_ATTEMPTS = 5

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def file_base_url(base_url: str) -> str:
    """Telegram's file URL for a Bot API base URL: .../bot -> .../file/bot."""
    base = base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file"


def failure_kind(exc: BaseException) -> str:
    """What a log may say about a failure: its type, never its text."""
    return "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__


class TelegramConnection:
    """Connects the bot (start), keeps trying in the background, and disconnects (stop)."""

    def __init__(
        self,
        application: AnyApplication,
        settings: Settings,
        *,
        polling: bool,
        polling_error: Callable[[TelegramError], None],
    ) -> None:
        self.application = application
        self.settings = settings
        self.polling = polling
        self.retry_seconds = CONNECT_RETRY_SECONDS  # tests shorten it
        self.ready = asyncio.Event()
        self._polling_error = polling_error
        self._webhook_done = False
        self._tasks: list[asyncio.Task[None]] = []

    # --- start -------------------------------------------------------------------------------

    async def start(self) -> None:
        """The first attempt, now. Raises ConfigError only for a refused token."""
        try:
            await self._attempt()
        except InvalidToken:
            await self._close()
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN was refused by the Telegram Bot API (check the token from"
                " @BotFather and TELEGRAM_API_BASE_URL)"
            ) from None
        except Exception as exc:
            log.error(
                "Telegram start-up failed (%s); SMS and documents keep working, Telegram"
                " answers 503 until connected; retrying in %s s",
                failure_kind(exc), _seconds(self.retry_seconds),
            )
            self._spawn(self._keep_trying(), "telegram-connect")
            return
        self._connected(attempts=1)

    async def _keep_trying(self) -> None:
        delay, attempt = self.retry_seconds, 1
        while True:
            await asyncio.sleep(delay)
            attempt += 1
            try:
                await self._attempt()
            except InvalidToken:
                log.error(
                    "Telegram start-up attempt %d: TELEGRAM_BOT_TOKEN was refused; no more"
                    " attempts (fix the token and restart csbot serve)", attempt,
                )
                return
            except Exception as exc:
                delay = min(delay * 2, max(MAX_RETRY_SECONDS, self.retry_seconds))
                log.warning(
                    "Telegram start-up attempt %d failed (%s); retrying in %s s",
                    attempt, failure_kind(exc), _seconds(delay),
                )
                continue
            self._connected(attempts=attempt)
            return

    async def _attempt(self) -> None:
        app = self.application
        await app.initialize()  # getMe proves the token; a no-op once it has succeeded
        if self.polling:
            updater = app.updater
            assert updater is not None
            if not updater.running:  # start_polling deletes any webhook first
                await updater.start_polling(
                    allowed_updates=ALLOWED_UPDATES, error_callback=self._polling_error
                )
            if not app.running:
                await app.start()
        elif not self._webhook_done:
            await self._register_webhook()
            self._webhook_done = True

    def _connected(self, attempts: int) -> None:
        self.ready.set()
        mode = "polling for updates (webhook deleted)" if self.polling else "webhook mode"
        if attempts == 1:
            log.info("Telegram connected: %s", mode)
        else:
            log.info("Telegram connected: %s, after %d attempts", mode, attempts)
        self._spawn(self._register_menu(), "telegram-menu")

    async def _register_webhook(self) -> None:
        public_url = self.settings.public_url
        if not public_url.startswith("https://"):
            log.warning(
                "Telegram: CSBOT_PUBLIC_URL is not https, so no webhook was registered; Telegram"
                " only delivers to https (use csbot serve --telegram-polling locally)"
            )
            return
        try:
            await self.application.bot.set_webhook(
                url=public_url + WEBHOOK_PATH,
                secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("Telegram: webhook registered at %s%s", public_url, WEBHOOK_PATH)
        except BadRequest as exc:
            # Telegram's own description (e.g. a secret with characters it refuses): asking
            # again would be refused again. Its description quotes neither token nor secret.
            log.error("Telegram refused the webhook registration: %s", exc.message)

    # --- the command menu: optional, in the background ----------------------------------------

    async def _register_menu(self) -> None:
        pending = list(LOCALES)
        delay = self.retry_seconds
        for attempt in range(1, MENU_ATTEMPTS + 1):
            failures: list[str] = []
            for language in list(pending):
                try:
                    await self._set_menu(language)
                except BadRequest as exc:  # refused: the same request would be refused again
                    log.error("Telegram refused the command menu (%s): %s", language, exc.message)
                except Exception as exc:
                    failures.append(f"{language}: {failure_kind(exc)}")
                    continue
                pending.remove(language)
            if not pending:
                return
            if attempt == MENU_ATTEMPTS:
                log.error(
                    "Telegram: the command menu (%s) was not set after %d attempts; no more"
                    " attempts (typed /commands still work)", ", ".join(failures), attempt,
                )
                return
            log.warning(
                "Telegram: the command menu (%s) was not set; retrying in %s s",
                ", ".join(failures), _seconds(delay),
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _set_menu(self, language: str) -> None:
        _ = translator(language).gettext
        commands = [BotCommand(name, _(description)) for name, description in COMMAND_MENU]
        # English is the default menu; French for clients whose language is French.
        code = None if language == "en" else language
        await self.application.bot.set_my_commands(commands, language_code=code)

    # --- stop ----------------------------------------------------------------------------------

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        await self._close()

    async def _close(self) -> None:
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except Exception as exc:  # closing connections must not block the service's exit
            log.warning("Telegram shutdown: %s", failure_kind(exc))

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))


def _seconds(value: float) -> str:
    return f"{value:g}"
