"""Signed, short-lived links to one document: `CSBOT_PUBLIC_URL/d/{token}`.

The token carries what it opens (person, document kind, record, language) and when it
expires, and a truncated HMAC-SHA256 over all of it, keyed with a subkey derived from
CSBOT_SECRET_KEY (so a doclink MAC can never be confused with an SSN or PIN hash).
Layout before base64url (no padding), kept compact because it travels inside a 306-character
SMS:

    version (1) | expires, unix seconds (4) | kind<<4 | locale (1) | len(person) (1)
    | person id (utf-8) | record id (utf-8) | MAC (16)

With the example data a token is about 60 characters. A token opens exactly the one
document it names, for its one person, until it expires; it is not secret from the person
who received it, and it reveals nothing else (the ids inside are opaque record ids, never
an SSN, a name or an amount).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import struct

from bot.config import Settings
from bot.i18n import LOCALES
from dialogs.replies import DocumentKind, DocumentRef

LINK_LIFETIME = dt.timedelta(minutes=15)
_VERSION = 1
_MAC_BYTES = 16  # 128 bits: forging one needs ~2^128 online guesses
_HEADER = struct.Struct(">BIBB")
# Stable wire codes: never renumber (tokens in flight would open the wrong kind).
_KIND_CODES = {
    DocumentKind.PAYMENT_HISTORY: 1,
    DocumentKind.STATEMENT: 2,
    DocumentKind.COUPON: 3,
    DocumentKind.NOTICE: 4,
}
_KINDS_BY_CODE = {code: kind for kind, code in _KIND_CODES.items()}
_LOCALE_CODES = {"en": 0, "fr": 1}
_LOCALES_BY_CODE = {code: locale for locale, code in _LOCALE_CODES.items()}
assert set(_LOCALE_CODES) == set(LOCALES), "every supported language needs a link code"
_MAX_TOKEN_CHARS = 400  # longer input is refused before any decoding work


def _link_key(settings: Settings) -> bytes:
    return hmac.new(settings.require_secret_key(), b"csbot/doclink/v1", hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def make_document_token(settings: Settings, ref: DocumentRef, now: dt.datetime) -> str:
    """A token that opens `ref` until now + 15 minutes."""
    person = ref.person_id.encode("utf-8")
    record = ref.record_id.encode("utf-8")
    if not person or len(person) > 255 or not record:
        raise ValueError("document reference ids must be 1-255 bytes")
    expires = int((now + LINK_LIFETIME).timestamp())
    kind_and_locale = (_KIND_CODES[DocumentKind(ref.kind)] << 4) | _LOCALE_CODES.get(ref.locale, 0)
    payload = _HEADER.pack(_VERSION, expires, kind_and_locale, len(person)) + person + record
    raw = payload + _mac(_link_key(settings), payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def read_document_token(settings: Settings, token: str, now: dt.datetime) -> DocumentRef | None:
    """The reference a valid, unexpired token stands for; None for anything else.

    Callers must not tell the cases apart to the outside (expired, altered, malformed all
    look the same), so this returns None without saying why.
    """
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _HEADER.size + 2 + _MAC_BYTES:
        return None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    # Check the MAC before trusting any field of the payload.
    if not hmac.compare_digest(mac, _mac(_link_key(settings), payload)):
        return None
    version, expires, kind_and_locale, person_length = _HEADER.unpack_from(payload)
    if version != _VERSION or now.timestamp() >= expires:
        return None
    kind = _KINDS_BY_CODE.get(kind_and_locale >> 4)
    locale = _LOCALES_BY_CODE.get(kind_and_locale & 0x0F)
    body = payload[_HEADER.size :]
    if kind is None or locale is None or not 0 < person_length < len(body):
        return None
    try:
        person_id = body[:person_length].decode("utf-8")
        record_id = body[person_length:].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return DocumentRef(kind=kind, person_id=person_id, record_id=record_id, locale=locale)


def document_url(settings: Settings, ref: DocumentRef, now: dt.datetime) -> str:
    """The link an SMS reply carries: CSBOT_PUBLIC_URL/d/{token}."""
    return f"{settings.public_url}/d/{make_document_token(settings, ref, now)}"
