"""The short HTML page GET /d/{token} shows instead of a document: the link has expired or is
not valid (404), or was opened too often (429), and how to get a new one.

In the link's language when the token is genuine (it decrypts, so its language is known);
for anything else, which cannot be told apart from a forgery, in English and in French. Every
text goes through gettext, and everything inserted into the page is HTML-escaped.
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

from bot.documents.links import LINK_LIFETIME
from bot.i18n import LOCALES, translator
from dialogs.replies import DocumentKind, DocumentRef
from dialogs.text import N_
from dialogs.vocabulary import ENTRIES, Intent

TITLE = N_("Document link")
NOT_VALID = {
    DocumentKind.STATEMENT: N_("This link to your account statement has expired or is not valid."),
    DocumentKind.COUPON: N_("This link to your payment coupon has expired or is not valid."),
    DocumentKind.NOTICE: N_("This link to your monthly notice has expired or is not valid."),
    DocumentKind.PAYMENT_HISTORY: N_("This link to your payment history has expired or is not valid."),
}
ANY_NOT_VALID = N_("This link has expired or is not valid.")
TOO_OFTEN = N_("This link has been opened too many times.")
AGAIN = N_("To get a new link, send {word} again in the chat. A link works for {minutes} minutes.")
ANY_AGAIN = N_(
    "To get a new link, send the same word again in the chat (for example {word}). A link works"
    " for {minutes} minutes."
)
# The word that offered each kind of document (PDF: the printable payment history).
_WORD = {
    DocumentKind.STATEMENT: Intent.STATEMENT,
    DocumentKind.COUPON: Intent.COUPON,
    DocumentKind.NOTICE: Intent.NOTICE,
    DocumentKind.PAYMENT_HISTORY: Intent.PDF,
}
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the URL is a bearer token
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}
_STYLE = "body{font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em;line-height:1.4}"


def _section(locale: str, ref: DocumentRef | None, too_often: bool) -> str:
    t = translator(locale)
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    if ref is None:
        headline = t.gettext(TOO_OFTEN if too_often else ANY_NOT_VALID)
        word = ENTRIES[Intent.STATEMENT].keyword(locale)
        advice = t.gettext(ANY_AGAIN).format(word=word, minutes=minutes)
    else:
        kind = DocumentKind(ref.kind)
        headline = t.gettext(TOO_OFTEN if too_often else NOT_VALID[kind])
        advice = t.gettext(AGAIN).format(word=ENTRIES[_WORD[kind]].keyword(locale), minutes=minutes)
    return (
        f'<section lang="{html.escape(locale)}"><h1>{html.escape(t.gettext(TITLE))}</h1>'
        f"<p>{html.escape(headline)}</p><p>{html.escape(advice)}</p></section>"
    )


def link_page(ref: DocumentRef | None, *, too_often: bool = False) -> HTMLResponse:
    """404 (or 429 when `too_often`) with the page; `ref` None: the language is unknown."""
    locales = (ref.locale,) if ref is not None and ref.locale in LOCALES else LOCALES
    page_locale = locales[0] if len(locales) == 1 else "en"
    body = "".join(_section(locale, ref, too_often) for locale in locales)
    title = " / ".join(translator(locale).gettext(TITLE) for locale in locales)
    document = (
        f'<!DOCTYPE html>\n<html lang="{html.escape(page_locale)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )
    return HTMLResponse(document, status_code=429 if too_often else 404, headers=_HEADERS)
