"""An operator's start-up mistakes end `csbot serve` with one line naming the setting."""

from __future__ import annotations

import subprocess

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
