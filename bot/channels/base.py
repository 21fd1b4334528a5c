"""What every channel says and logs when handling a message fails (an apology with an error
id, never the message), and the note after a message holding a secret."""

from __future__ import annotations

import logging
import secrets
import traceback

from bot.i18n import LOCALES, translator


def new_error_id() -> str:
    """What the parent quotes to the helpline and staff search the log for."""
    return secrets.token_hex(4).upper()


def apology_text(locale: str | None, error_id: str) -> str:
    """The apology for a message that could not be handled; in every language when the
    chat's is unknown (no conversation yet, or the database is down)."""
    codes = [locale] if locale in LOCALES else list(LOCALES)
    return "\n".join(
        translator(code)
        .gettext(
            "Sorry, something went wrong on our side. Please try again in a few minutes."
            " (Error {error_id})"
        )
        .format(error_id=error_id)
        for code in codes
    )


def secret_note(locale: str, *, deleted: bool) -> str:
    """Said after a message holding an SSN or PIN, on a channel that can delete messages."""
    _ = translator(locale).gettext
    if deleted:
        return _("For your safety, I deleted the message with your number.")
    return _("For your safety, please delete the message with your number from this chat.")


def log_failure(log: logging.Logger, what: str, error_id: str, exc: BaseException) -> None:
    """Log where it failed, never what was in the message: exception texts can quote SQL
    parameters or the text a parent typed, so only the type and the code locations go."""
    frames = traceback.extract_tb(exc.__traceback__)
    # Our own frames say where in csbot it went wrong; the innermost one says in what library.
    ours = [f for f in frames if "/bot/" in f.filename or "/dialogs/" in f.filename][-5:]
    shown = ours + ([frames[-1]] if frames and (not ours or frames[-1] is not ours[-1]) else [])
    where = " <- ".join(f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(shown))
    kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
    log.error("%s failed, error id %s: %s at %s", what, error_id, kind, where or "?")
