"""Signed document links: round trip, expiry, tampering, other keys, size."""

from __future__ import annotations

import base64
import datetime as dt

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


def test_token_is_short_and_url_safe(settings):
    token = make_document_token(settings, _ref(), NOW)
    assert len(token) < 80
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    # The longest person id (32 characters) still fits comfortably in an SMS.
    long_ref = _ref(person="P" * 32, record="CS10000001-S1")
    assert len(make_document_token(settings, long_ref, NOW)) < 100
    url = document_url(settings, _ref(), NOW)
    assert url.startswith("https://bot.example.org/d/") and url.endswith(token)


def test_token_reveals_no_secret(settings):
    token = make_document_token(settings, _ref(), NOW)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert TEST_SECRET_KEY.encode() not in raw
    assert TEST_SECRET_KEY not in token


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
