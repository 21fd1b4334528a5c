"""A parent cannot get replies faster than the channel allows: the token buckets behind the
Telegram sender's limits (30 a second per bot, about one a second per chat after a short burst)."""

from __future__ import annotations

import asyncio

import pytest

from bot.outbound import pacing
from bot.outbound.pacing import Pacer
from bot.outbound.telegram import PER_BOT_PER_SECOND, PER_CHAT_BURST, PER_CHAT_PER_SECOND


class FakeTime:
    """A clock that only moves when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _send(pacer: Pacer, count: int) -> None:
    async def run() -> None:
        for _ in range(count):
            await pacer.wait()

    asyncio.run(run())


@pytest.mark.parametrize("rate,burst,count", [(PER_CHAT_PER_SECOND, PER_CHAT_BURST, 40), (PER_BOT_PER_SECOND, 30, 300)])
def test_sends_never_outrun_the_rate_after_the_burst(monkeypatch: pytest.MonkeyPatch, rate, burst, count) -> None:
    fake = FakeTime()
    monkeypatch.setattr(pacing.asyncio, "sleep", fake.sleep)
    pacer = Pacer(rate, burst, clock=fake)
    start = fake.now
    _send(pacer, count)
    # The burst goes at once; every send after it waits its 1/rate.
    assert fake.now - start == pytest.approx((count - burst) / rate, rel=1e-6)


def test_one_chat_is_held_to_about_one_message_a_second() -> None:
    assert PER_CHAT_PER_SECOND == 1 and PER_CHAT_BURST <= 10 and PER_BOT_PER_SECOND <= 30
