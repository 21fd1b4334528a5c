"""Errors an operator acts on, as one family: `bot.cli` is the one place that prints them.

Each prints as `csbot: error: MESSAGE` (then its detail lines, indented) and exits with its
`status`: 2 for a problem with the command's setup (configuration, database, file), 1 for a
request the operator must correct (an unknown id, an extract with errors).
"""

from __future__ import annotations

from collections.abc import Sequence


class CsbotError(Exception):
    status = 2

    def __init__(self, message: str, *, details: Sequence[str] = (), status: int | None = None) -> None:
        super().__init__(message)
        self.details = tuple(details)
        if status is not None:
            self.status = status


class ConfigError(CsbotError):
    """A setting is missing or malformed; the message names the variable, never its value."""


class DatabaseUnavailable(CsbotError):
    """The database cannot be reached or opened."""


class CommandError(CsbotError):
    """The command cannot run as asked (a bad option value, a missing file, a refused mode)."""


class RequestRefused(CsbotError):
    """A staff request names records that are unknown or in the wrong state; nothing changed."""

    status = 1


class ImportRejected(CsbotError):
    """The extract has errors; nothing was imported. The details list them."""

    status = 1
