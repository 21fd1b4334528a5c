"""Telegram against odd input and a flaky Bot API, in process against tests/support/fake_bot_api.py.

- A webhook update that is valid JSON with an update_id but odd types anywhere else is never a
  5xx: it is handled or ignored with 200, and logged without its content.
- Start-up: only a refused token stops start-up; anything else is logged and retried in the
  background while the webhook answers 503; the command menu never blocks readiness; a
  half-done start (updater running, a later step failed) is finished, not restarted.
- Nothing python-telegram-bot logs (at any level) carries an update's content.
"""

from __future__ import annotations

import copy
import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.support.fake_bot_api import FakeBotApi, callback_update, text_update

pytestmark = pytest.mark.slow

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
SECRET = "webhook-Secret_0123456789"
SSN = "987-65-4320"
FAST_RETRY = 0.05  # seconds between start-up attempts in these tests


@pytest.fixture
def telegram(make_settings, sqlite_url):
    """(api, build): build(polling=False) -> a TelegramComponent with a real engine."""
    from bot.channels.telegram.route import telegram_component
    from bot.conversation.engine import ConversationEngine
    from bot.runtime import open_runtime

    api = FakeBotApi(TOKEN).start()
    settings_ = make_settings(
        sqlite_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE_URL=api.base_url,
        CSBOT_PUBLIC_URL="https://bot.example.org",
    )
    runtime = open_runtime(settings_)

    def build(*, polling: bool = False):
        component = telegram_component(runtime, ConversationEngine(runtime), polling=polling)
        component.retry_seconds = FAST_RETRY
        return component

    try:
        yield api, build
    finally:
        api.stop()
        runtime.dispose()


def client_for(component) -> TestClient:
    from bot.web.app import create_app

    return TestClient(create_app(component.runtime, components=[component]))


def post(client, update) -> int:
    response = client.post(
        "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    return response.status_code


def texts(api: FakeBotApi) -> list[str]:
    return [c.params["text"] for c in api.calls_to("sendMessage")]


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def logged(caplog) -> str:
    """Every captured record as a handler would print it, tracebacks included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


# --- 1. odd types in an update -------------------------------------------------------------------


def test_numeric_language_code_is_handled_with_200(telegram, caplog):
    api, build = telegram
    with client_for(build()) as client:
        api.clear()
        message = text_update(13000, "/help")
        message["message"]["from"]["language_code"] = 12
        assert post(client, message) == 200
        assert "888-208-4485" in "\n".join(texts(api))  # handled, in the default language
        press = callback_update(13001, "MENU")
        press["callback_query"]["from"]["language_code"] = 12
        assert post(client, press) == 200
    assert "Traceback" not in logged(caplog)


def test_an_update_pythons_telegram_bot_cannot_read_is_200_and_logged_without_content(telegram, caplog):
    api, build = telegram
    with client_for(build()) as client:
        api.clear()
        unreadable = text_update(13100, SSN)
        unreadable["message"]["date"] = "yesterday"  # de_json fails on it
        assert post(client, unreadable) == 200  # a redelivery would fail the same way
        assert api.calls == []
    text = logged(caplog)
    assert "not an Update" in text
    assert SSN not in text and SSN.replace("-", "") not in text


_ODD = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
_MESSAGE_FIELDS = [
    ("message",), ("message", "message_id"), ("message", "date"), ("message", "chat"),
    ("message", "chat", "id"), ("message", "chat", "type"), ("message", "from"),
    ("message", "from", "id"), ("message", "from", "is_bot"), ("message", "from", "language_code"),
    ("message", "from", "first_name"), ("message", "text"), ("message", "entities"),
    ("message", "caption"),
]
_BUTTON_FIELDS = [
    ("callback_query",), ("callback_query", "id"), ("callback_query", "data"),
    ("callback_query", "from"), ("callback_query", "from", "language_code"),
    ("callback_query", "from", "is_bot"), ("callback_query", "chat_instance"),
    ("callback_query", "message"), ("callback_query", "message", "chat", "id"),
    ("callback_query", "message", "message_id"), ("callback_query", "message", "date"),
]


def _with(update: dict, path: tuple[str, ...], value: object) -> dict:
    changed = copy.deepcopy(update)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def test_odd_field_types_never_give_a_5xx(telegram):
    """Any field but update_id replaced by a value of another JSON type: 200, every time."""
    _api, build = telegram
    with client_for(build()) as client:

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            button=st.booleans(),
            changes=st.lists(st.tuples(st.integers(0, 13), _ODD), min_size=1, max_size=3),
        )
        def check(button: bool, changes: list[tuple[int, object]]) -> None:
            update = callback_update(13200, "MENU") if button else text_update(13200, "/help")
            fields = _BUTTON_FIELDS if button else _MESSAGE_FIELDS
            for index, value in changes:
                path = fields[index % len(fields)]
                try:
                    update = _with(update, path, value)
                except (KeyError, TypeError):  # an earlier change replaced a parent
                    continue
            assert post(client, update) == 200

        check()
