"""Logging: one format, noisy libraries quieted, secrets redacted as a last line of defence.

The first defence is never passing a secret to a logger. This filter catches what libraries
log on their own: httpx logs request URLs at INFO, and a Telegram URL holds the bot token.
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


def configure_logging(settings: Settings, level: str | None = None) -> None:
    root = logging.getLogger()
    root.setLevel((level or settings.log_level).upper())
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(
        RedactSecrets(
            [
                settings.secret_key or "",
                settings.twilio_auth_token or "",
                settings.telegram_bot_token or "",
                settings.telegram_webhook_secret or "",
                settings.smtp_password or "",
            ]
        )
    )
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
