"""Logging: one format, noisy libraries quieted, secrets redacted as a last line of defence.

The first defence is never passing a secret to a logger. RedactSecrets catches what libraries
log on their own: httpx logs request URLs at INFO, and a Telegram URL holds the bot token.
ScrubArguments keeps a library's message templates but none of their arguments or exception
texts: python-telegram-bot logs API parameters and answers at DEBUG, and a whole getUpdates
batch it cannot parse at CRITICAL ("Received data was %r"), a parent's SSN included.
"""

from __future__ import annotations

import logging
import re

from bot.config import Settings

# Loggers that would print update bodies or URLs with the token at DEBUG/INFO.
_QUIET = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram.ext.Updater": logging.INFO,
    # fontTools logs each PDF's glyph names (the letters of a parent's document) at INFO.
    "fontTools": logging.WARNING,
}
# Telegram's token shape, wherever it appears (URL path, error text).
_TELEGRAM_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TELEGRAM_TOKEN.sub("[redacted-token]", message)
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_text is None:
            # Formatted tracebacks can quote arguments: redact them too.
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self._secrets:
                text = text.replace(secret, "[redacted]")
            record.exc_text = _TELEGRAM_TOKEN.sub("[redacted-token]", text)
        return True


class ScrubArguments(logging.Filter):
    """For the records of the logger `prefix` and those below it: the message template and the
    exception's type stay; the arguments, the exception's text and the traceback go.

    On a logger it rewrites the record before any handler sees it (but applies only to
    records logged by that very logger: see scrub_loggers); on a handler it applies to
    whatever reaches it from the hierarchy."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != self.prefix and not record.name.startswith(self.prefix + "."):
            return True
        template = record.msg if isinstance(record.msg, str) else f"<{type(record.msg).__name__}>"
        exc_type = record.exc_info[0] if record.exc_info else None
        if exc_type is not None:
            template = f"{template} [{exc_type.__name__}]"
        record.msg, record.args = template, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def scrub_loggers(prefix: str) -> None:
    """Put ScrubArguments(prefix) on the logger `prefix` and on every logger below it that
    exists now. Call it after importing the library (python-telegram-bot creates its loggers,
    e.g. telegram.ext.ExtBot, when its modules are imported); calling it again is harmless."""
    names = [prefix, *(name for name in list(logging.root.manager.loggerDict) if name.startswith(prefix + "."))]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubArguments) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(ScrubArguments(prefix))


def configure_logging(settings: Settings, level: str | None = None) -> None:
    root = logging.getLogger()
    root.setLevel((level or settings.log_level).upper())
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubArguments("telegram"))  # loggers created after scrub_loggers ran
    handler.addFilter(
        RedactSecrets(
            [
                settings.secret_key or "",
                settings.twilio_auth_token or "",
                settings.telegram_bot_token or "",
                settings.telegram_webhook_secret or "",
                settings.smtp_password or "",
                settings.imap_password or "",
            ]
        )
    )
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
