"""What a dialog step answers, channel-neutral: text, choices, and printable documents.

A channel renders these in its medium (Telegram: buttons and a PDF upload; SMS: words to send
back and a signed link), so dialogs never hold a PDF or know a channel's limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Choice:
    """One option a parent can pick: `word` is what the engine understands when it comes back."""

    label: str
    word: str


class DocumentKind(StrEnum):
    PAYMENT_HISTORY = "payment_history"
    STATEMENT = "statement"
    COUPON = "coupon"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A printable document the reply offers; the channel renders it (Telegram: a PDF upload,
    SMS: a signed link). `record_id` names the statement, coupon or notice; for payment
    history it is the case number."""

    kind: DocumentKind
    person_id: str
    record_id: str
    locale: str


@dataclass(frozen=True, slots=True)
class Link:
    """A web page the reply's text points to; a channel that shows pictures adds its QR code
    (the source page gives its NY.gov pages as QR codes too)."""

    url: str
    caption: str
    filename: str  # of the picture, for a parent who saves it


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    document: DocumentRef | None = None
    links: tuple[Link, ...] = ()
    # Quotes what the parent typed: a channel shows it as written, never altering letters
    # (SMS sends it in Unicode when it needs to, within the message budget).
    as_typed: bool = False
