"""Talking to the mail server (aiosmtplib): one connection per batch, and every SMTP failure
described in one short line that never quotes a secret, marked permanent (retrying will not
help) or connection-wide (the rest of the batch would fail the same way)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from bot.config import Settings
from bot.outbox.mail import sender_address
from bot.outbox.queue import ERROR_LIMIT

SMTP_VARIABLES = (
    "CSBOT_SMTP_HOST, CSBOT_SMTP_PORT, CSBOT_SMTP_USER, CSBOT_SMTP_PASSWORD, "
    "CSBOT_SMTP_STARTTLS, CSBOT_SMTP_FROM"
)


class DeliveryError(Exception):
    """One message could not be delivered; `permanent` means retrying will not help."""

    def __init__(self, description: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(description)
        self.description = description
        self.permanent = permanent
        self.connection = connection


def scrub(text: str, settings: Settings) -> str:
    """A short, one-line error description that never quotes a secret."""
    text = " ".join(str(text).split())
    for secret in (settings.smtp_password, settings.secret_key):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:ERROR_LIMIT]


def describe_smtp_error(exc: BaseException, settings: Settings) -> DeliveryError:
    where = f"{settings.smtp_host}:{settings.smtp_port}"

    def connection_error(text: str) -> DeliveryError:
        return DeliveryError(scrub(text, settings), connection=True)

    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return DeliveryError(
            scrub(f"SMTP recipient refused: {text}", settings),
            permanent=bool(codes) and all(500 <= c < 600 for c in codes),
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # A configuration problem: retrying after the operator fixes it will work.
        return connection_error(f"SMTP login to {where} refused: {exc.code} {exc.message}")
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError)):
        return connection_error(f"cannot connect to SMTP server {where}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return connection_error(f"SMTP server {where} disconnected: {exc}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return connection_error(f"SMTP server {where}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(scrub(f"SMTP {exc.code}: {exc.message}", settings))
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return connection_error(f"SMTP server {where} timed out")
    if isinstance(exc, ssl.SSLError):
        return connection_error(f"TLS with SMTP server {where} failed: {exc}")
    if isinstance(exc, OSError):
        return connection_error(f"cannot connect to SMTP server {where}: {exc}")
    return DeliveryError(scrub(f"SMTP error: {type(exc).__name__}: {exc}", settings))


def smtp_client(settings: Settings, timeout: float) -> aiosmtplib.SMTP:
    implicit_tls = settings.smtp_port == 465  # SMTPS: TLS from the first byte
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user or None,
        password=settings.smtp_password if settings.smtp_user else None,
        use_tls=implicit_tls,
        # true: STARTTLS is required (and the certificate checked); false: plain SMTP.
        start_tls=bool(settings.smtp_starttls) and not implicit_tls,
        timeout=timeout,
    )


class SmtpSession:
    """One SMTP connection reused across a batch, reopened after a disconnect."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def send(self, message: EmailMessage, recipient: str) -> None:
        try:
            if self._client is None or not self._client.is_connected:
                self._client = smtp_client(self._settings, self._timeout)
                await self._client.connect()
            await self._client.send_message(
                message,
                sender=sender_address(self._settings.smtp_from),
                recipients=[recipient],
            )
        except Exception as exc:
            error = describe_smtp_error(exc, self._settings)
            if error.connection:
                await self.close()
            raise error from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except Exception:  # the connection is going away either way
                client.close()
