"""An operator's start-up mistakes end `csbot serve` with one line naming the setting."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.support.fake_bot_api import FakeBotApi
from tests.support.serve_process import csbot_command, csbot_env, free_port

TOKEN = "123456:" + "A" * 35


@pytest.mark.slow
def test_refused_telegram_token_is_one_line_without_traceback(sqlite_url):
    with FakeBotApi("999999:" + "B" * 35) as api:  # knows another token: answers 401
        env = csbot_env(
            sqlite_url,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_WEBHOOK_SECRET="s3cret-" + "x" * 20,
            TELEGRAM_API_BASE_URL=api.base_url,
        )
        result = subprocess.run(
            [*csbot_command(), "serve", "--port", str(free_port())],
            env=env, capture_output=True, text=True, timeout=90,
        )
    assert result.returncode != 0
    assert "csbot serve cannot start: TELEGRAM_BOT_TOKEN was refused" in result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr and TOKEN.split(":")[1] not in result.stderr


def test_telegram_token_without_webhook_secret_is_refused(sqlite_url):
    env = csbot_env(sqlite_url, TELEGRAM_BOT_TOKEN=TOKEN)
    env.pop("TELEGRAM_WEBHOOK_SECRET", None)
    result = subprocess.run(
        [*csbot_command(), "serve", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_BOT_TOKEN is set"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_malformed_getme_leaves_sms_working_and_telegram_at_503(sqlite_url):
    """Telegram's answer to getMe lacks is_bot: `csbot serve` starts anyway, SMS answers, the
    Telegram webhook is 503 (not connected yet), and the log has one line, no traceback."""
    from tests.support.fake_bot_api import BOT_USER, text_update
    from tests.support.live_service import (
        TELEGRAM_SECRET,
        TELEGRAM_TOKEN,
        TWILIO_TOKEN,
        Sms,
        both_channels_env,
    )
    from tests.support.serve_process import start_serve

    with FakeBotApi(TELEGRAM_TOKEN) as api:
        api.answer_with("getMe", {k: v for k, v in BOT_USER.items() if k != "is_bot"})
        server = start_serve(both_channels_env(sqlite_url, api))  # waits for /healthz
        sms = Sms(server, TWILIO_TOKEN)
        try:
            assert "888-208-4485" in sms.say("+15185550101", "HELP")
            response = httpx.post(
                server.url + "/telegram/webhook", json=text_update(15000, "/help"),
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}, timeout=10,
            )
            assert response.status_code == 503  # Telegram delivers it again later
        finally:
            sms.close()
            server.stop()
            log = server.log_text()
            server.log_path.unlink(missing_ok=True)
    assert "Telegram start-up failed (TypeError)" in log and "retrying" in log
    assert "Traceback" not in log
    assert TELEGRAM_TOKEN not in log and TELEGRAM_TOKEN.split(":")[1] not in log
