"""Hypothesis over the conversation engine and the real store: random sequences of words from
the interface's table (both languages, /commands), SSNs and PINs of real and unknown people,
digits, dates, Unicode, control characters and 10 KB messages, interleaved across an SMS
number and a Telegram chat, with repeated delivery ids and a clock that jumps.

For every message: no exception; a repeat is acknowledged with nothing to say; otherwise at
least one non-empty reply unless the SMS number opted out; and every reply is in the
conversation's language (the outcome's locale): no English-only sentence of the catalog in a
French reply, no French-only sentence in an English one.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import pytest
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.conversation.turn import Channel, InboundMessage
from bot.i18n import locales_dir
from bot.importer.pipeline import import_extract
from bot.runtime import open_runtime
from dialogs.vocabulary import COMMANDS, WORDS
from tests.support.dialog_harness import AMINATA, CLAUDE, JAMES, MARIA, UNKNOWN_SSN, make_bot

_PLACEHOLDER = re.compile(r"\{[^}]*\}")
MIN_FRAGMENT = 14


@lru_cache(maxsize=1)
def language_markers() -> dict[str, tuple[str, ...]]:
    """Sentence fragments only one language's catalog has: {'en': English-only, 'fr': French-only}."""
    with (locales_dir() / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    english, french = [], []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        english.extend(ids)
        french.extend(s for s in strings if s)

    def fragments(texts: list[str], other: list[str]) -> tuple[str, ...]:
        other_joined = "\n".join(other)
        pieces = {
            piece.strip()
            for text in texts
            for part in _PLACEHOLDER.split(text)
            for piece in part.split("\n")
            if len(piece.strip()) >= MIN_FRAGMENT
        }
        return tuple(sorted(p for p in pieces if p not in other_joined))

    markers = {"en": fragments(english, french), "fr": fragments(french, english)}
    assert len(markers["en"]) > 30 and len(markers["fr"]) > 30
    return markers


def other_language_text(text: str, locale: str) -> list[str]:
    other = "fr" if locale == "en" else "en"
    return [fragment for fragment in language_markers()[other] if fragment in text]


PEOPLE = [MARIA, JAMES, AMINATA, CLAUDE]
keyword = st.sampled_from(sorted(WORDS)) | st.sampled_from(sorted("/" + c for c in COMMANDS))
decorated_keyword = st.builds(
    lambda word, before, after, lower: f"{before}{word.lower() if lower else word}{after}",
    keyword, st.sampled_from(["", " ", "  ", "\t"]), st.sampled_from(["", " ", "!", ".", " ?"]), st.booleans(),
)
secret = st.sampled_from(
    [p["ssn"] for p in PEOPLE] + [p["pin"] for p in PEOPLE] + [UNKNOWN_SSN, "00000", "12345678", "1988-03-14", "10027"]
)
text_strategy = st.one_of(
    decorated_keyword,
    decorated_keyword,
    secret,
    st.integers(min_value=0, max_value=12).map(str),
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=30),
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(min_value=9_000, max_value=10_240)),
)
# Whole verifications (a request, the SSN, the PIN) in one action, so sessions really start.
texts = st.one_of(
    text_strategy.map(lambda text: [text]),
    st.builds(
        lambda word, person: [word, person["ssn"], person["pin"]],
        st.sampled_from(["MENU", "SOLDE", "/balance", "OFFICE", "NOTICE", "COUPON"]),
        st.sampled_from(PEOPLE),
    ),
)
action = st.tuples(
    st.sampled_from([Channel.SMS, Channel.TELEGRAM]),
    texts,
    st.sampled_from([0, 0, 0, 1, 20, 1000, 13 * 60]),  # minutes the clock jumps first
    st.booleans(),  # deliver the previous delivery id again first
)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    monkeypatch = pytest.MonkeyPatch()
    from bot.config import load_settings
    from tests.support.databases import TEST_SECRET_KEY

    for name in ("CSBOT_DATABASE_URL", "TWILIO_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'csbot.db'}"
    monkeypatch.setenv("CSBOT_DATABASE_URL", url)
    monkeypatch.setenv("CSBOT_SECRET_KEY", TEST_SECRET_KEY)
    runtime = open_runtime(load_settings())
    monkeypatch.undo()
    from tests.support.databases import EXAMPLE_EXTRACT

    import_extract(runtime, EXAMPLE_EXTRACT)
    yield make_bot(runtime)
    runtime.dispose()


_chats = itertools.count(1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=1, max_size=14), hint=st.sampled_from([None, "en", "fr", "fr-CA", "de"]))
# Found by this test: a French-speaking parent signing out of a Telegram chat whose client
# says English got the French goodbye labelled English (the outcome's locale).
@example(actions=[(Channel.TELEGRAM, ["/start", AMINATA["ssn"], AMINATA["pin"], "/logout"], 0, False)], hint="en")
def test_any_sequence_gets_replies_in_the_conversation_language(bot, actions, hint) -> None:
    n = next(_chats)
    senders = {Channel.SMS: f"+1646555{n:04d}", Channel.TELEGRAM: str(9_000_000 + n)}
    last_delivery: dict[Channel, str] = {}
    steps = [
        (channel, text, minutes if i == 0 else 0, repeat and i == 0)
        for channel, group, minutes, repeat in actions
        for i, text in enumerate(group)
    ]
    for index, (channel, text, minutes, repeat) in enumerate(steps):
        bot.clock.advance(minutes=minutes)
        sender = senders[channel]
        if repeat and channel in last_delivery:
            again = bot.engine.handle(InboundMessage(channel, sender, "MENU", last_delivery[channel], hint))
            assert again.duplicate and again.replies == []
        delivery = f"fz-{n}-{index}"
        last_delivery[channel] = delivery
        outcome = bot.engine.handle(
            InboundMessage(channel, sender, text, delivery, hint if channel is Channel.TELEGRAM else None)
        )
        assert not outcome.duplicate
        if outcome.silent:
            assert channel is Channel.SMS
            continue
        assert outcome.replies, (channel, text[:50])
        assert outcome.locale in ("en", "fr")
        for reply in outcome.replies:
            assert reply.text.strip()
            assert other_language_text(reply.text, outcome.locale) == [], (outcome.locale, text[:50], reply.text)
