"""Reading a reply to the office mail: which message it answers, who sent it, and the answer
itself without the quoted original.

Matching: the office mail's Message-ID is `<OM-…@csbot.domain>` (bot/outbox/mail.py), so a
reply names it in In-Reply-To and References; else the subject's reference ("Re: Parent
message OM-…"). The answer is the first plain-text part; an HTML-only mail is turned into text
with the standard library's html.parser (quoted <blockquote>s, styles and scripts dropped).
Attachments are never forwarded: they are counted, for the log.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage, MIMEPart
from email.utils import parseaddr
from html.parser import HTMLParser

from bot.office_answers.record import REFERENCE

_MESSAGE_ID_REFERENCE = re.compile(r"<(OM-[A-Z0-9]{8})@csbot\.[^>]*>")
# "On Tue, Dec 1, 2026 at 9:00 AM Office <x@y> wrote:" (clients may wrap it over two lines),
# Outlook's separator, the French "Le … a écrit :", and our own mail's quoted body.
_QUOTE_HEADER = re.compile(r"^\s*(On\s.*wrote:|Le\s.*a\s+écrit\s*:)\s*$", re.IGNORECASE)
_QUOTE_HEADER_START = re.compile(r"^\s*(On|Le)\s", re.IGNORECASE)
_SEPARATORS = re.compile(
    r"^\s*(-{2,}\s*Original Message\s*-{2,}|_{10,}|-{5} message as typed by the parent -{5})\s*$", re.IGNORECASE
)
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


@dataclass(frozen=True)
class ReplyMail:
    message_id: str | None
    sender: str  # the bare From address, lower case
    references: tuple[str, ...]  # candidate references, most likely first
    automatic: bool  # an autoresponder's mail (out of office, ...): never an answer
    text: str  # the answer, quoted original dropped ("" when the mail has no text)
    html_only: bool
    attachments: int


def parse(raw: bytes) -> ReplyMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    _name, sender = parseaddr(str(message.get("From", "")))
    body, html_only, attachments = _body(message)
    return ReplyMail(
        message_id=(str(message.get("Message-ID", "")).strip() or None),
        sender=sender.strip().lower(),
        references=references_of(message),
        automatic=_automatic(message),
        text=strip_quoted(body),
        html_only=html_only,
        attachments=attachments,
    )


def references_of(message: EmailMessage) -> tuple[str, ...]:
    """In-Reply-To first, then References (the newest, last, first), then the subject's."""
    found: list[str] = []
    references = _MESSAGE_ID_REFERENCE.findall(str(message.get("References", "")))
    for value in [*_MESSAGE_ID_REFERENCE.findall(str(message.get("In-Reply-To", ""))), *reversed(references)]:
        if value not in found:
            found.append(value)
    for value in REFERENCE.findall(str(message.get("Subject", ""))):
        if value not in found:
            found.append(value)
    return tuple(found)


def _automatic(message: EmailMessage) -> bool:
    auto_submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto_submitted != "no"
        or precedence in _AUTO_PRECEDENCE
        or message.get("X-Autoreply") is not None
        or message.get("X-Autorespond") is not None
    )


def _body(message: EmailMessage) -> tuple[str, bool, int]:
    """(text, whether it came from HTML, attachments not forwarded)."""
    attachments = sum(1 for part in message.walk() if part.is_attachment())
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None and not plain.is_attachment():
        return _content(plain), False, attachments
    html = message.get_body(preferencelist=("html",))
    if html is not None and not html.is_attachment():
        return html_to_text(_content(html)), True, attachments
    return "", False, attachments


def _content(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read what can be read
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def strip_quoted(body: str) -> str:
    """The answer without the quoted original: lines starting with ">" dropped, everything from
    an "On … wrote:" line (or a client's separator) on dropped."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _SEPARATORS.match(line) or _QUOTE_HEADER.match(line):
            break
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _QUOTE_HEADER_START.match(line) and _QUOTE_HEADER.match(f"{line} {following}"):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


class _HtmlText(HTMLParser):
    _SKIPPED = {"style", "script", "head", "title", "blockquote"}
    _BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self.skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
