"""Encrypted document links: round trip, expiry, tampering, other keys, size, opacity, and
canonical form (exactly one string opens a document)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import struct

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.config import load_settings
from bot.documents.links import (
    LINK_LIFETIME,
    document_url,
    make_document_token,
    read_document_token,
)
from dialogs.replies import DocumentKind, DocumentRef
from tests.support.databases import TEST_SECRET_KEY

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings(make_settings, sqlite_url):
    return make_settings(sqlite_url, CSBOT_PUBLIC_URL="https://bot.example.org")


def _ref(kind=DocumentKind.STATEMENT, person="P-1001", record="CS10000001-S1", locale="en"):
    return DocumentRef(kind=kind, person_id=person, record_id=record, locale=locale)


@pytest.mark.parametrize("kind", list(DocumentKind))
@pytest.mark.parametrize("locale", ["en", "fr"])
def test_round_trip_every_kind_and_language(settings, kind, locale):
    ref = _ref(kind=kind, locale=locale)
    token = make_document_token(settings, ref, NOW)
    assert read_document_token(settings, token, NOW) == ref
    assert read_document_token(settings, token, NOW + LINK_LIFETIME - dt.timedelta(seconds=1)) == ref


def test_expires_after_fifteen_minutes(settings):
    token = make_document_token(settings, _ref(), NOW)
    assert read_document_token(settings, token, NOW + dt.timedelta(minutes=15)) is None
    assert read_document_token(settings, token, NOW + dt.timedelta(days=3)) is None


def test_token_has_a_fixed_length_and_is_url_safe(settings):
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    tokens = {make_document_token(settings, _ref(kind, person, record), NOW)
              for kind in DocumentKind for person in ("P-1", "P-1001", "P-100000001")
              for record in ("CS1", "CS10000001-S1", "CS10000001-N12")}
    assert {len(token) for token in tokens} == {92}  # the ids' lengths do not show
    assert all(set(token) <= alphabet for token in tokens)
    # The longest ASCII ids the importer admits (32 and 64 characters) still fit an SMS.
    long_ref = _ref(person="P" * 32, record="R" * 64)
    assert len(make_document_token(settings, long_ref, NOW)) == 176
    assert read_document_token(settings, make_document_token(settings, long_ref, NOW), NOW) == long_ref
    widest = _ref(person="\U0001f600" * 32, record="\U0001f600" * 64)
    assert len(make_document_token(settings, widest, NOW)) == 560
    assert read_document_token(settings, make_document_token(settings, widest, NOW), NOW) == widest
    url = document_url(settings, _ref(), NOW)
    assert url.startswith("https://bot.example.org/d/") and len(url.rsplit("/", 1)[1]) == 92
    assert read_document_token(settings, url.rsplit("/", 1)[1], NOW) == _ref()


def test_token_reveals_no_secret(settings):
    token = make_document_token(settings, _ref(), NOW)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert TEST_SECRET_KEY.encode() not in raw
    assert TEST_SECRET_KEY not in token


def _decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_no_account_data_is_readable_in_a_token(settings, kind):
    """Neither the token nor its base64-decoded bytes show the person, case or record."""
    secrets = ["P-1001", "CS10000001", "CS10000001-S1", "10000001", "1001"]
    ref = _ref(kind=kind, person="P-1001", record="CS10000001" if kind is DocumentKind.PAYMENT_HISTORY
               else "CS10000001-S1")
    for _ in range(20):  # random nonces: no lucky token either
        token = make_document_token(settings, ref, NOW)
        raw = _decoded(token)
        for secret in secrets:
            assert secret not in token and secret.lower() not in token.lower()
            assert secret.encode() not in raw
            assert base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()[:-1] not in token
    # Two links to one document share nothing recognisable.
    assert make_document_token(settings, ref, NOW) != make_document_token(settings, ref, NOW)


def _variants(token: str):
    """Every way to alter a token a little: each character replaced, case changed, junk or
    padding inserted anywhere, characters dropped or added."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, char in enumerate(token):
        for other in alphabet:
            if other != char:
                yield token[:index] + other + token[index + 1 :]
        if char.swapcase() != char:
            yield token[:index] + char.swapcase() + token[index + 1 :]
    for index in range(len(token) + 1):
        for junk in ("=", "==", " ", ".", "~", "+", "/", "%3D", "\n", "\u00e9", "A", "-"):
            yield token[:index] + junk + token[index:]
    yield token.swapcase()
    yield token.upper()
    yield token.lower()
    yield token[:-1]
    yield token[1:]
    yield token + "=" * (-len(token) % 4 or 4)
    yield token.replace("-", "+").replace("_", "/")


def test_any_change_to_a_token_is_refused(settings):
    token = make_document_token(settings, _ref(), NOW)
    assert read_document_token(settings, token, NOW) == _ref()
    refused = [v for v in _variants(token) if v != token and read_document_token(settings, v, NOW) is not None]
    assert refused == []


def _old_format_token(person="P-1001", record="CS10000001-S1") -> str:
    """A token as the previous release made it: HMAC-signed, ids in plain base64."""
    key = hmac.new(TEST_SECRET_KEY.encode(), b"csbot/doclink/v1", hashlib.sha256).digest()
    expires = int((NOW + LINK_LIFETIME).timestamp())
    payload = struct.pack(">BIBB", 1, expires, (2 << 4) | 0, len(person)) + person.encode() + record.encode()
    raw = payload + hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_an_old_format_token_is_refused(settings):
    old = _old_format_token()
    assert b"P-1001" in _decoded(old)  # what the old format showed
    assert read_document_token(settings, old, NOW) is None


def test_every_single_bit_flip_is_refused(settings):
    token = make_document_token(settings, _ref(), NOW)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in range(len(raw)):
        for bit in range(8):
            altered = bytearray(raw)
            altered[index] ^= 1 << bit
            text = base64.urlsafe_b64encode(bytes(altered)).rstrip(b"=").decode()
            assert read_document_token(settings, text, NOW) is None, (index, bit)


def test_cannot_be_re_pointed_at_another_person_or_record(settings):
    """Splicing another token's fields in breaks the MAC: a token opens only its document."""
    mine = base64.urlsafe_b64decode(make_document_token(settings, _ref(person="P-1001"), NOW) + "==")
    theirs = base64.urlsafe_b64decode(make_document_token(settings, _ref(person="P-1002"), NOW) + "==")
    spliced = theirs[:-16] + mine[-16:]
    text = base64.urlsafe_b64encode(spliced).rstrip(b"=").decode()
    assert read_document_token(settings, text, NOW) is None


def test_another_key_cannot_read_it(settings):
    token = make_document_token(settings, _ref(), NOW)
    other = load_settings(CSBOT_SECRET_KEY="a-completely-different-key-42")
    assert read_document_token(other, token, NOW) is None


@pytest.mark.parametrize(
    "garbage",
    ["", "x", "not a token", "%%%%", "A" * 500, "AAAA", "....", "\u00e9\u00e9\u00e9", "-_-_-_-_-_-_"],
)
def test_malformed_tokens_are_refused(settings, garbage):
    assert read_document_token(settings, garbage, NOW) is None


# Built once: Hypothesis tests cannot take function-scoped fixtures.
_STATIC_SETTINGS = load_settings(CSBOT_SECRET_KEY=TEST_SECRET_KEY)


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_never_raises(garbage):
    assert read_document_token(_STATIC_SETTINGS, garbage, NOW) is None


@hsettings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_arbitrary_bytes_never_raise(raw):
    text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert read_document_token(_STATIC_SETTINGS, text, NOW) is None
