"""Settings from the environment, named exactly as spec/interface.md names them.

pydantic-settings does the reading and type checks; this module turns its errors into one
line per variable that an operator can act on, and never echoes a secret's value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.outbound.quiet import parse_quiet_hours, parse_timezone

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}

DEFAULT_DATABASE_URL = "sqlite:///csbot.db"
MIN_SECRET_KEY_LENGTH = 16


def _strict_bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be true or false (also 1/0, yes/no)")


StrictFlag = Annotated[bool, BeforeValidator(_strict_bool)]

def _env(name: str, **kwargs: Any) -> Any:
    """A field read from exactly this environment variable (no prefix, no other spelling)."""
    return Field(validation_alias=AliasChoices(name), **kwargs)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=False, frozen=True)

    database_url: str = _env("CSBOT_DATABASE_URL", default=DEFAULT_DATABASE_URL)
    secret_key: str | None = _env("CSBOT_SECRET_KEY", default=None, repr=False)
    public_url: str = _env("CSBOT_PUBLIC_URL", default="http://127.0.0.1:8080")

    twilio_auth_token: str | None = _env("TWILIO_AUTH_TOKEN", default=None, repr=False)
    twilio_account_sid: str | None = _env("TWILIO_ACCOUNT_SID", default=None)
    twilio_from_number: str | None = _env("TWILIO_FROM_NUMBER", default=None)
    twilio_api_base_url: str = _env("TWILIO_API_BASE_URL", default="https://api.twilio.com")
    sms_per_second: float = _env("CSBOT_SMS_PER_SECOND", default=1.0, gt=0)

    telegram_bot_token: str | None = _env("TELEGRAM_BOT_TOKEN", default=None, repr=False)
    telegram_webhook_secret: str | None = _env("TELEGRAM_WEBHOOK_SECRET", default=None, repr=False)
    telegram_api_base_url: str = _env(
        "TELEGRAM_API_BASE_URL", default="https://api.telegram.org/bot"
    )

    smtp_host: str | None = _env("CSBOT_SMTP_HOST", default=None)
    smtp_port: int = _env("CSBOT_SMTP_PORT", default=25, ge=1, le=65535)
    smtp_user: str | None = _env("CSBOT_SMTP_USER", default=None)
    smtp_password: str | None = _env("CSBOT_SMTP_PASSWORD", default=None, repr=False)
    smtp_starttls: StrictFlag = _env("CSBOT_SMTP_STARTTLS", default=False)
    smtp_from: str = _env("CSBOT_SMTP_FROM", default="csbot@localhost")
    reply_to: str | None = _env("CSBOT_REPLY_TO", default=None)

    imap_host: str | None = _env("CSBOT_IMAP_HOST", default=None)
    imap_port: int = _env("CSBOT_IMAP_PORT", default=993, ge=1, le=65535)
    imap_user: str | None = _env("CSBOT_IMAP_USER", default=None)
    imap_password: str | None = _env("CSBOT_IMAP_PASSWORD", default=None, repr=False)
    imap_starttls: StrictFlag = _env("CSBOT_IMAP_STARTTLS", default=False)
    imap_mailbox: str = _env("CSBOT_IMAP_MAILBOX", default="INBOX")

    session_idle_seconds: int = _env("CSBOT_SESSION_IDLE_SECONDS", default=900, gt=0)
    sms_encoding: Literal["gsm7", "unicode"] = _env("CSBOT_SMS_ENCODING", default="gsm7")

    # Additions (documented in the README): not in the original interface table.
    program_name: str = _env("CSBOT_PROGRAM_NAME", default="NYS Child Support")
    remit_to_address: str = _env(
        "CSBOT_REMIT_TO_ADDRESS",
        default="NYS Child Support Processing Center, PO Box 15363, Albany, NY 12212-5363",
    )
    log_level: str = _env("CSBOT_LOG_LEVEL", default="INFO")
    # The staff desk's address as staff's browsers reach it (the reverse proxy's), e.g.
    # https://desk.agency.example; https makes its session cookie Secure.
    desk_url: str | None = _env("CSBOT_DESK_URL", default=None)

    # Alerts and office-answer notices wait out the quiet hours (bot/outbound/quiet.py).
    quiet_hours: str = _env("CSBOT_QUIET_HOURS", default="21:00-08:00")
    timezone: str = _env("CSBOT_TIMEZONE", default="America/New_York")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:///PATH or postgresql://... URL")
        return value

    @field_validator("public_url", "desk_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        parse_quiet_hours(value)  # ValueError names what is wrong
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        parse_timezone(value)
        return value.strip()

    @field_validator("sms_encoding", mode="before")
    @classmethod
    def _lower_encoding(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    # --- derived views -------------------------------------------------------------------

    def require_secret_key(self) -> bytes:
        if not self.secret_key:
            raise ConfigError(
                "CSBOT_SECRET_KEY is not set: it keys the hashes of SSNs and PINs and must be"
                " the same for every command on one database"
            )
        if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"CSBOT_SECRET_KEY is too short: use at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        return self.secret_key.encode("utf-8")

    @property
    def desk_secure_cookies(self) -> bool:
        """The desk is reached over https: its cookie is sent over https only."""
        return bool(self.desk_url and self.desk_url.startswith("https://"))

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_auth_token)

    @property
    def sms_sending_enabled(self) -> bool:
        """The outbound queue can send SMS: Twilio's account SID, auth token and From number."""
        return bool(self.twilio_auth_token and self.twilio_account_sid and self.twilio_from_number)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def imap_enabled(self) -> bool:
        return bool(self.imap_host)

    def check_channels(self) -> None:
        if self.telegram_bot_token and not self.telegram_webhook_secret:
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_BOT_TOKEN is set"
            )


def load_settings(**overrides: object) -> Settings:
    """Read the environment; raise ConfigError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings reads the rest from the environment
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = _variable_name(error)
            reason = error.get("msg", "is invalid")
            if reason.startswith("Value error, "):
                reason = reason[len("Value error, ") :]
            problems.append(f"{variable}: {reason}")
        raise ConfigError("; ".join(problems)) from None


def _variable_name(error: ErrorDetails) -> str:
    loc = error.get("loc") or ("?",)
    name = str(loc[0])
    field = Settings.model_fields.get(name)
    if field is not None and isinstance(field.validation_alias, AliasChoices):
        return str(field.validation_alias.choices[0])
    return name
