"""Words every dialog and document shares: the helpline, and the gettext marker for tables."""

from __future__ import annotations

HELPLINE = "888-208-4485"
TTY = "866-875-9975"


def N_(message: str) -> str:
    """Mark a string for extraction where it is translated later (e.g. a table of labels)."""
    return message
