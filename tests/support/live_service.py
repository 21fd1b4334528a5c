"""Drivers for a running `csbot serve`: Twilio's signed SMS posts, Telegram updates against
the fake Bot API, and the shared environment (both channels on, the example extract loaded).

The security and reliability tests share these; the `api` fixture (a module-scoped fake Bot
API) is registered for every test module through conftest.py's `pytest_plugins`.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select
from twilio.request_validator import RequestValidator

from bot.store.database import normalise_url
from tests.support.databases import EXAMPLE_EXTRACT as EXAMPLE
from tests.support.fake_bot_api import FakeBotApi, text_update
from tests.support.outbound import wait_for_replies
from tests.support.serve_process import ServeProcess, csbot_env, run_csbot, running_serve

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

    @property
    def signed_url(self) -> str:
        """The URL Twilio signs: the service's public one (behind TLS), not the one we reach."""
        return self.server.public_url + "/twilio/sms"

    @staticmethod
    def next_sid() -> str:
        return "SM" + secrets.token_hex(16)  # Twilio's shape: SM + 32 hex digits

    def sign(self, params: dict[str, str], token: str | None = None, url: str | None = None) -> str:
        return RequestValidator(token or self.token).compute_signature(url or self.signed_url, params)

    def params(self, sender: str, body: str, sid: str | None = None) -> dict[str, str]:
        """What Twilio posts for an inbound SMS (the fields csbot reads, and some it does not)."""
        return {
            "ToCountry": "US", "From": sender, "To": "+15185550000", "Body": body,
            "MessageSid": sid or self.next_sid(), "AccountSid": "AC" + "0" * 32, "NumMedia": "0",
            "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01",
        }

    def post(self, params: dict[str, str], signature: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        return self.http.post(self.url, data=params, headers=headers, **kwargs)

    def send(self, sender: str, body: str, sid: str | None = None) -> list[str]:
        """The messages of the TwiML answer (an answer other than 200 TwiML fails the test)."""
        params = self.params(sender, body, sid)
        response = self.post(params, self.sign(params))
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/xml")
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
    Bot API once the outbound queue has sent them (the webhook answers 200 as soon as the
    step and its queued replies are committed)."""

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
                if response.status_code == 200:
                    wait_for_replies(self.server.env["CSBOT_DATABASE_URL"])
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


def count_rows(db: Engine, model: Any, *where: Any) -> int:
    with db.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(*where)) or 0



@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi(TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, api: FakeBotApi) -> Iterator[tuple[ServeProcess, Engine, Sms, Telegram]]:
    """A `csbot serve` per test module, both channels on, the example extract loaded; after the
    module, its log holds no traceback and no secret."""
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
