"""SMS replies: each reply is its text, then its choices as words to send back, then a link to
its document. In `gsm7` mode the text is folded to the GSM-7 alphabet first. Each <Message>
is at most two segments (306 GSM-7 characters, or 134 UCS-2 characters in `unicode` mode for
text outside GSM-7); the dialogs page long lists themselves, and anything longer still is
split at line boundaries into more messages, never cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.sax.saxutils import escape as xml_escape

from starlette.responses import Response

from bot.channels.sms.gsm7 import fold_to_gsm7, segments, split_to_fit
from bot.conversation.turn import Outcome
from bot.i18n import translator
from dialogs.replies import Choice, DocumentRef, Reply

MAX_SEGMENTS = 2
# Characters XML 1.0 cannot carry (TwiML is XML): C0 controls but tab/newline/CR, and
# surrogates, U+FFFE, U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

TWIML_CONTENT_TYPE = "application/xml"
_TWIML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def render_outcome(
    outcome: Outcome, encoding: str, document_link: Callable[[DocumentRef], str | None] | None
) -> list[str]:
    """Every reply of one step as SMS messages; none for a duplicate or an opted-out number."""
    if outcome.duplicate or outcome.silent:
        return []
    messages: list[str] = []
    for reply in outcome.replies:
        messages.extend(render_reply(reply, locale=outcome.locale, encoding=encoding, document_link=document_link))
    return merge_messages(messages)


def render_reply(
    reply: Reply,
    *,
    locale: str,
    encoding: str,
    document_link: Callable[[DocumentRef], str | None] | None = None,
) -> list[str]:
    """One reply as SMS texts, each within the two-segment budget."""
    parts = [reply.text.strip()]
    if reply.choices:
        parts.append(render_choices(reply.choices, reply.text, locale))
    if reply.document is not None and document_link is not None:
        link = document_link(reply.document)
        if link:
            t = translator(locale)
            parts.append(t.gettext("Printable copy (the link works for 15 minutes): {link}").format(link=link))
    text = "\n".join(part for part in parts if part)
    return fit_for_sms(text, encoding, as_typed=reply.as_typed)


def render_choices(choices: tuple[Choice, ...], text: str, locale: str) -> str:
    """Choices as the words to send back: 'Reply: BALANCE, PAYMENTS, LOGOUT'.

    Words, not numbers: every word of the interface always works, while numbers only pick
    from the last reply's choices. A numbered choice (a case to pick) is already listed by
    the dialog's own text ('1: Case ...1234'); it is added only when the text lacks it.
    """
    t = translator(locale)
    listed = {line.split(":", 1)[0].strip() for line in text.splitlines() if ":" in line}
    # A word the text already asks for ("Send MORE for older ones") is not repeated.
    words = [
        c.word
        for c in choices
        if not c.word.isdigit() and not re.search(rf"\b{re.escape(c.word)}\b", text)
    ]
    numbered = [
        f"{c.word}: {c.label}" for c in choices if c.word.isdigit() and c.word not in listed
    ]
    lines = list(numbered)
    if words:
        lines.append(t.gettext("Reply: {words}").format(words=", ".join(words)))
    return "\n".join(lines)


def merge_messages(messages: list[str]) -> list[str]:
    """Join consecutive short messages when that costs no more segments: fewer messages, the
    same price, and the parts cannot arrive out of order."""
    merged: list[str] = []
    for message in messages:
        if merged:
            joined = merged[-1] + "\n\n" + message
            cost_apart = segments(merged[-1]) + segments(message)
            if segments(joined) <= min(MAX_SEGMENTS, cost_apart):
                merged[-1] = joined
                continue
        merged.append(message)
    return merged


def fit_for_sms(text: str, encoding: str, *, as_typed: bool = False) -> list[str]:
    """Make XML-safe, then split into messages of at most two segments. In `gsm7` mode each
    message is folded to the GSM-7 alphabet unless it fits as many segments as written: a short
    French message keeps its accents at no extra cost. A parent's own words (`as_typed`) are
    kept as written whenever they fit the two-segment budget at all."""
    text = _XML_INVALID.sub("", text)
    if encoding != "gsm7" or (as_typed and segments(text) <= MAX_SEGMENTS):
        return [part for part in split_to_fit(text, MAX_SEGMENTS) if part.strip()]
    folded = [part for part in split_to_fit(fold_to_gsm7(text), MAX_SEGMENTS) if part.strip()]
    written = [part for part in split_to_fit(text, MAX_SEGMENTS) if part.strip()]
    if len(written) == len(folded) == 1 and segments(written[0]) <= segments(folded[0]):
        return written  # one message either way, and no dearer as written
    return folded


def twiml_response(messages: list[str]) -> Response:
    """The same document as twilio's MessagingResponse, written directly: building it through
    ElementTree cost more per message than the rest of the rendering (bench/RESULTS.md)."""
    if not messages:
        return Response(_TWIML_HEAD + "<Response />", media_type=TWIML_CONTENT_TYPE)
    body = "".join(f"<Message>{xml_escape(message)}</Message>" for message in messages)
    return Response(f"{_TWIML_HEAD}<Response>{body}</Response>", media_type=TWIML_CONTENT_TYPE)
