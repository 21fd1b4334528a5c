"""Webhook security through a running `csbot serve` with both channels on, plus the HTTP
drivers the other security and reliability tests share (import them from this module).

What this file proves:
- Twilio: a missing, forged, or replayed-with-a-changed-body signature is 403, never 500,
  and records nothing; the exact replay of a signed request is acknowledged and not acted on.
- Telegram: a missing or wrong secret token is 403 before the body is parsed (an invalid JSON
  body with a wrong secret is 403, not 400) and records nothing, sends nothing.
- Oversized bodies on both routes are refused with 413, declared or streamed.
- Generated Telegram bodies and updates never give a 5xx or a traceback in the log.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, func, select
from twilio.request_validator import RequestValidator

from bot.store.models import Conversation, HandledDelivery
from bot.store.session import normalise_url
from tests.support.fake_bot_api import FakeBotApi, text_update
from tests.support.serve_process import ServeProcess, csbot_env, run_csbot, running_serve

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parent / "example-import.json"
TWILIO_TOKEN = "twilio-sec-auth-token-8f3a1c77e2"
# A realistic token shape (digits, colon, 35 characters), so redaction by shape is exercised too.
TELEGRAM_TOKEN = "7364519023:AAHk3sQ9vXbT2mLr8WzYc4NfJp6DqE1uGoZ"
TELEGRAM_SECRET = "tg-webhook-secret-5b9d2e"
MESSAGE_RE = re.compile(r"<Message>(.*?)</Message>", re.S)
APOLOGY = "Sorry, something went wrong"


def messages_of(xml: str) -> list[str]:
    return [html.unescape(m) for m in MESSAGE_RE.findall(xml)]


def load_example(env: dict[str, str]) -> None:
    result = run_csbot(env, "import", str(EXAMPLE), "--quiet")
    assert result.returncode == 0, result.stderr


def db_engine(url: str) -> Engine:
    return create_engine(normalise_url(url))


def both_channels_env(database_url: str, api: FakeBotApi | None, **extra: str) -> dict[str, str]:
    variables = {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN, **extra}
    if api is not None:
        variables.update(
            TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
            TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
            TELEGRAM_API_BASE_URL=api.base_url,
        )
    return csbot_env(database_url, **variables)


# --- drivers ------------------------------------------------------------------------------------


@dataclass
class Sms:
    """Talks to a running server as Twilio does: signed form posts, TwiML answers."""

    server: ServeProcess
    token: str = TWILIO_TOKEN
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return self.server.url + "/twilio/sms"

    @staticmethod
    def next_sid() -> str:
        return "SM" + secrets.token_hex(16)

    def sign(self, params: dict[str, str], token: str | None = None) -> str:
        return RequestValidator(token or self.token).compute_signature(
            self.server.public_url + "/twilio/sms", params
        )

    def params(self, sender: str, body: str, sid: str | None = None) -> dict[str, str]:
        return {
            "From": sender, "To": "+15185550000", "Body": body,
            "MessageSid": sid or self.next_sid(), "AccountSid": "AC" + "0" * 32, "NumMedia": "0",
        }

    def post(self, params: dict[str, str], signature: str | None = None) -> httpx.Response:
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        return self.http.post(self.url, data=params, headers=headers)

    def send(self, sender: str, body: str, sid: str | None = None) -> list[str]:
        params = self.params(sender, body, sid)
        response = self.post(params, self.sign(params))
        assert response.status_code == 200, (response.status_code, response.text)
        return messages_of(response.text)

    def say(self, sender: str, body: str) -> str:
        return "\n".join(self.send(sender, body))

    def verify(self, sender: str, person: dict) -> str:
        self.send(sender, "MENU")
        self.send(sender, person["ssn"])
        return self.say(sender, person["pin"])

    def close(self) -> None:
        self.http.close()


@dataclass
class Telegram:
    """Posts updates to the webhook as Telegram does; reads the bot's answers from the fake
    Bot API (the webhook handles an update completely before it answers)."""

    server: ServeProcess
    api: FakeBotApi
    secret: str = TELEGRAM_SECRET
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return self.server.url + "/telegram/webhook"

    def post(self, body: bytes | dict, secret: str | None = "default") -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret == "default":
            secret = self.secret
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        deadline = time.monotonic() + 15
        while True:
            response = self.http.post(self.url, content=content, headers=headers)
            # 503 until the bot has connected to the (fake) Bot API after start-up.
            if response.status_code != 503 or time.monotonic() > deadline:
                return response
            time.sleep(0.1)

    def send(self, chat_id: int, text: str, language: str | None = "en", update_id: int | None = None) -> list[str]:
        """The texts sent to `chat_id` in answer to one text update."""
        before = len(self.api.calls)
        response = self.post(text_update(chat_id, text, language_code=language, update_id=update_id))
        assert response.status_code == 200, response.status_code
        with self.api._lock:
            new_calls = list(self.api.calls[before:])
        return [
            str(call.params.get("text", ""))
            for call in new_calls
            if call.method == "sendMessage" and str(call.params.get("chat_id")) == str(chat_id)
        ]

    def say(self, chat_id: int, text: str, language: str | None = "en") -> str:
        return "\n".join(self.send(chat_id, text, language))

    def documents(self, since: int = 0) -> list[bytes]:
        with self.api._lock:
            calls = list(self.api.calls[since:])
        return [f.data for c in calls if c.method == "sendDocument" for f in c.files.values()]

    def close(self) -> None:
        self.http.close()


def count_rows(db: Engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    with db.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- the server for this module -----------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi(TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, api: FakeBotApi):
    url = f"sqlite:///{tmp_path_factory.mktemp('websec') / 'csbot.db'}"
    env = both_channels_env(url, api, CSBOT_PUBLIC_URL="https://bot.example.org")
    load_example(env)
    with running_serve(env) as server:
        db = db_engine(url)
        sms, telegram = Sms(server), Telegram(server, api)
        yield server, db, sms, telegram
        sms.close()
        telegram.close()
        db.dispose()
        log = server.log_text()
        assert "Traceback" not in log
        for secret in (TWILIO_TOKEN, TELEGRAM_TOKEN, TELEGRAM_SECRET):
            assert secret not in log


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


async def async_send(
    http: httpx.AsyncClient, sms: Sms, sender: str, body: str, sid: str | None = None
) -> tuple[int | None, list[str], str]:
    """One signed SMS post from an async client: (status or None if the connection failed,
    the TwiML messages, the MessageSid)."""
    params = sms.params(sender, body, sid)
    try:
        response = await http.post(sms.url, data=params, headers={"X-Twilio-Signature": sms.sign(params)})
    except httpx.HTTPError:
        return None, [], params["MessageSid"]
    return response.status_code, messages_of(response.text), params["MessageSid"]
