"""Telegram against odd input and a flaky Bot API, in process against tests/support/fake_bot_api.py.

- A webhook update that is valid JSON with an update_id but odd types anywhere else is never a
  5xx: it is handled or ignored with 200, and logged without its content.
- Start-up: only a refused token stops start-up; anything else is logged and retried in the
  background while the webhook answers 503; the command menu never blocks readiness; a
  half-done start (updater running, a later step failed) is finished, not restarted.
- Nothing python-telegram-bot logs (at any level) carries an update's content.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.support.fake_bot_api import BOT_USER, FakeBotApi, callback_update, text_update
from tests.support.outbound import sender_for, wait_for_replies

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

    client = TestClient(create_app(component.runtime, components=[component, sender_for(component)]))
    client.app_runtime = component.runtime  # for post's wait for the queued replies
    return client


def post(client, update) -> int:
    response = client.post(
        "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    if response.status_code == 200:
        wait_for_replies(client.app_runtime.db)  # the replies leave from the outbound queue
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
        assert texts(api) == [] and not api.calls_to("deleteMessage")
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


# --- 2. start-up failures other than a refused token ------------------------------------------------


def test_malformed_getme_is_retried_while_the_webhook_answers_503(telegram, caplog):
    caplog.set_level(logging.INFO, logger="bot")  # httpx, quieted by bot.logs in service, would show URLs
    api, build = telegram
    api.answer_with("getMe", {k: v for k, v in BOT_USER.items() if k != "is_bot"})
    with client_for(build()) as client:  # start-up does not fail
        assert post(client, text_update(13300, "/help")) == 503
        assert len(api.calls_to("getMe")) >= 1 and not api.calls_to("setWebhook")
        wait_until(lambda: len(api.calls_to("getMe")) >= 3)  # retried in the background
        assert post(client, text_update(13300, "/help")) == 503
        api.clear_faults()
        wait_until(lambda: bool(api.calls_to("setWebhook")))
        wait_until(lambda: post(client, text_update(13300, "/help")) == 200)
    text = logged(caplog)
    assert "Telegram start-up failed" in text and "retrying" in text
    assert "Telegram connected" in text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text


# --- 3. the command menu is optional --------------------------------------------------------------


def test_failing_command_menu_does_not_keep_the_webhook_at_503(telegram, caplog):
    api, build = telegram
    api.fail("setMyCommands", 500, times=-1)
    with client_for(build()) as client:
        assert api.calls_to("setWebhook")
        assert post(client, text_update(13400, "/help")) == 200
        assert "888-208-4485" in "\n".join(texts(api))
        wait_until(lambda: "command menu" in logged(caplog))  # logged, in the background


# --- 4. a half-done start is finished, not restarted ------------------------------------------------


async def _run_until(component, predicate, timeout: float = 10.0) -> None:
    sender = sender_for(component)  # polled updates' replies leave from the outbound queue
    await sender.startup()
    await component.startup()
    try:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out")
            await asyncio.sleep(0.02)
    finally:
        await component.shutdown()
        await sender.shutdown()


def test_polling_start_that_fails_after_the_updater_started_recovers(telegram, caplog):
    """Polling: getMe and the updater start, then setMyCommands fails once. Today's retry
    died on "This Updater is already running!"; now the bot polls and the menu follows."""
    api, build = telegram
    api.fail("setMyCommands", 500, times=1)
    component = build(polling=True)
    api.push_update(text_update(13500, "/help"))
    menus = lambda: {c.params.get("language_code") for c in api.calls_to("setMyCommands")}  # noqa: E731
    asyncio.run(
        _run_until(
            component, lambda: len(api.calls_to("sendPhoto")) == 2 and menus() == {None, "fr"}
        )
    )
    text = logged(caplog)
    assert "already running" not in text


def test_polling_start_where_the_application_fails_once_is_finished_not_restarted(
    telegram, monkeypatch, caplog
):
    """The updater is polling when Application.start fails: the next attempt starts only the
    application (a second start_polling would raise "This Updater is already running!")."""
    from telegram.error import NetworkError
    from telegram.ext import Application

    caplog.set_level(logging.INFO, logger="bot")  # httpx, quieted by bot.logs in service, would show URLs
    api, build = telegram
    real_start = Application.start
    failures = [NetworkError("flaky")]

    async def flaky_start(self):
        if failures:
            raise failures.pop()
        await real_start(self)

    monkeypatch.setattr(Application, "start", flaky_start)
    component = build(polling=True)
    api.push_update(text_update(13600, "/help"))
    asyncio.run(_run_until(component, lambda: len(api.calls_to("sendPhoto")) == 2))
    text = logged(caplog)
    assert "already running" not in text
    assert "Telegram connected" in text


# --- 5. nothing PTB logs carries an update's content -------------------------------------------------


def test_unparsable_polled_batch_never_reaches_a_log(telegram, caplog):
    api, build = telegram
    caplog.set_level(logging.DEBUG)
    component = build(polling=True)
    # Every telegram logger at DEBUG too: PTB logs API parameters and answers there.
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "telegram" or name.startswith("telegram.")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        api.push_raw_batch([{"update_id": 31337, "message": f"my SSN is {SSN}"}])
        api.push_update(text_update(13700, "/help"))  # polling goes on after the bad batch
        asyncio.run(_run_until(component, lambda: len(api.calls_to("sendPhoto")) == 2))
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    text = logged(caplog)
    assert "Error while parsing updates! Received data was" in text  # the template is kept
    assert "AttributeError" in text  # and the exception's type
    assert SSN not in text and SSN.replace("-", "") not in text
    assert "888-208-4485" not in text  # nor a reply's text (sendMessage parameters at DEBUG)


def test_an_unreadable_update_telegram_keeps_sending_is_skipped_and_polling_goes_on(telegram, caplog):
    """Telegram re-sends an update until the offset passes it. PTB failed the whole batch on
    it and asked again at once, forever (a tight loop; no later message was ever handled):
    now the batch is read one update at a time and the unreadable one is skipped."""
    api, build = telegram
    caplog.set_level(logging.INFO)
    component = build(polling=True)
    good = text_update(13700, "/help")
    bad_id = good["update_id"] - 1
    api.push_update({"update_id": bad_id, "message": f"my SSN is {SSN}"})  # kept until confirmed
    api.push_update(good)
    started = time.monotonic()
    asyncio.run(_run_until(component, lambda: len(api.calls_to("sendPhoto")) == 2))
    polls_per_second = len(api.calls_to("getUpdates")) / (time.monotonic() - started)
    assert polls_per_second < 20, f"{polls_per_second:.0f} getUpdates a second: a tight loop"
    offsets = [int(c.params.get("offset") or 0) for c in api.calls_to("getUpdates")]
    assert good["update_id"] + 1 in offsets  # the unreadable update was confirmed with the good one
    assert len([o for o in offsets if o <= bad_id]) <= 3, offsets  # the bad batch asked for again once
    text = logged(caplog)
    assert f"update {bad_id} cannot be read (AttributeError); skipped" in text
    assert SSN not in text and SSN.replace("-", "") not in text


def test_scrub_arguments_on_the_service_handler_covers_loggers_created_later():
    """configure_logging also puts the filter on its handler: a `telegram.*` logger created
    after scrub_loggers ran is scrubbed there; other loggers are left as they are."""
    from bot.logs import ScrubArguments

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.addFilter(ScrubArguments("telegram"))
    late = logging.getLogger("telegram.ext.CreatedLaterForATest")
    ours = logging.getLogger("bot.test_scrub_neighbour")
    for logger in (late, ours):
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
    try:
        try:
            raise ValueError(f"bad text {SSN}")
        except ValueError:
            late.exception("Received data was %r", {"text": SSN})
        ours.info("kept %s", "as is")
    finally:
        for logger in (late, ours):
            logger.removeHandler(handler)
            logger.propagate = True
    assert lines[0] == "Received data was %r [ValueError]"
    assert lines[1] == "kept as is"
