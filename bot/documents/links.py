"""Encrypted, short-lived links to one document: `CSBOT_PUBLIC_URL/d/{token}`.

A token is AES-256-GCM (the `cryptography` package) over what it opens (person, document
kind, record, language) and when it expires, with a fresh 96-bit random nonce, under a key
derived from CSBOT_SECRET_KEY (so it can never be confused with an SSN or PIN hash):

    nonce (12) | ciphertext of the padded plaintext | tag (16), in base64url without padding
    plaintext: expires, unix seconds (4) | kind<<4 | locale (1) | len(person) (1)
               | len(record) (2) | person id | record id | zero bytes up to the size class

Opaque: nothing of the account (person id, case number, record id) can be read from a token,
and its length says only which size class the ids fall in: 92 characters when the ids
together take at most 33 bytes (the agency's ids: P-1001, CS10000001-S1), 176 up to 96
bytes (every ASCII id the importer admits), 560 for the longest ids it admits at all
(32 and 64 characters of four UTF-8 bytes each).

Canonical: exactly one string opens a document. A token must be one of those exact lengths
of the base64url alphabet (no padding, no other character) before anything is decoded, must
re-encode to itself, must decrypt and authenticate, and its plaintext must be in the smallest
size class that fits with zero padding. Anything else, and anything expired, is refused.

A token opens exactly the one document it names, for its one person, for 15 minutes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.config import Settings
from bot.i18n import LOCALES
from dialogs.replies import DocumentKind, DocumentRef

LINK_LIFETIME = dt.timedelta(minutes=15)
_NONCE_BYTES = 12
_TAG_BYTES = 16
_ASSOCIATED_DATA = b"csbot/doclink/v2"
_HEADER = struct.Struct(">IBBH")  # expires, kind<<4 | locale, len(person), len(record)
# Plaintext size classes; each makes nonce + plaintext + tag a multiple of 3 bytes, so the
# base64url text has no padding and every character carries six significant bits.
_PLAINTEXT_SIZES = (41, 104, 392)
_TOKEN_LENGTHS = {(_NONCE_BYTES + size + _TAG_BYTES) * 4 // 3: size for size in _PLAINTEXT_SIZES}
assert all((_NONCE_BYTES + size + _TAG_BYTES) % 3 == 0 for size in _PLAINTEXT_SIZES)
_TOKEN_SHAPE = re.compile("|".join(f"[A-Za-z0-9_-]{{{length}}}" for length in _TOKEN_LENGTHS))
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


@dataclass(frozen=True)
class DocumentLink:
    """What a genuine token says: the document and until when it may be opened."""

    ref: DocumentRef
    expires_at: dt.datetime

    def expired(self, now: dt.datetime) -> bool:
        return now >= self.expires_at


def _cipher(settings: Settings) -> AESGCM:
    key = hmac.new(settings.require_secret_key(), b"csbot/doclink/v2/aes-256-gcm", hashlib.sha256)
    return AESGCM(key.digest())


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def make_document_token(settings: Settings, ref: DocumentRef, now: dt.datetime) -> str:
    """A token that opens `ref` until now + 15 minutes."""
    person = ref.person_id.encode("utf-8")
    record = ref.record_id.encode("utf-8")
    if not 0 < len(person) <= 255 or not 0 < len(record) <= 65535:
        raise ValueError("document reference ids must not be empty")
    expires = int((now + LINK_LIFETIME).timestamp())
    kind_and_locale = (_KIND_CODES[DocumentKind(ref.kind)] << 4) | _LOCALE_CODES.get(ref.locale, 0)
    plain = _HEADER.pack(expires, kind_and_locale, len(person), len(record)) + person + record
    size = next((size for size in _PLAINTEXT_SIZES if len(plain) <= size), None)
    if size is None:
        raise ValueError("document reference ids are too long for a link")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(settings).encrypt(nonce, plain.ljust(size, b"\0"), _ASSOCIATED_DATA)
    return _encode(nonce + sealed)


def decode_document_token(settings: Settings, token: str) -> DocumentLink | None:
    """What a genuine token stands for, expired or not; None for anything not made by
    `make_document_token` with this key, byte for byte."""
    size = _TOKEN_LENGTHS.get(len(token)) if isinstance(token, str) else None
    if size is None or not _TOKEN_SHAPE.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return None
    if _encode(raw) != token:
        return None
    try:
        plain = _cipher(settings).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _ASSOCIATED_DATA)
    except InvalidTag:
        return None
    # Authenticated from here on: only our own code made these bytes. Still parse strictly.
    expires, kind_and_locale, person_length, record_length = _HEADER.unpack_from(plain)
    used = _HEADER.size + person_length + record_length
    kind = _KINDS_BY_CODE.get(kind_and_locale >> 4)
    locale = _LOCALES_BY_CODE.get(kind_and_locale & 0x0F)
    smallest = next((s for s in _PLAINTEXT_SIZES if used <= s), None)
    if kind is None or locale is None or smallest != size or plain[used:].strip(b"\0"):
        return None
    try:
        person_id = plain[_HEADER.size : _HEADER.size + person_length].decode("utf-8")
        record_id = plain[_HEADER.size + person_length : used].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not person_id or not record_id:
        return None
    ref = DocumentRef(kind=kind, person_id=person_id, record_id=record_id, locale=locale)
    return DocumentLink(ref, dt.datetime.fromtimestamp(expires, dt.UTC))


def read_document_token(settings: Settings, token: str, now: dt.datetime) -> DocumentRef | None:
    """The reference a genuine, unexpired token stands for; None for anything else."""
    link = decode_document_token(settings, token)
    if link is None or link.expired(now):
        return None
    return link.ref


def token_digest(token: str) -> str:
    """SHA-256 of a token, hex: how the database counts a link's opens without keeping it."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def document_url(settings: Settings, ref: DocumentRef, now: dt.datetime) -> str:
    """The link an SMS reply carries: CSBOT_PUBLIC_URL/d/{token}."""
    return f"{settings.public_url}/d/{make_document_token(settings, ref, now)}"
