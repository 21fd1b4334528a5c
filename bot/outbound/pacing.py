"""Send rates: a token bucket per limit (an API's per-bot rate, one chat's rate)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """At most `rate` sends a second on average, with bursts of up to `burst`. `wait()` sleeps
    until a send may go; concurrent waiters queue in arrival order."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
                self._at = self._clock()
                self._tokens = 1.0
            self._tokens -= 1.0


class PerKey:
    """One Pacer per key (a chat), forgotten once idle long enough to have refilled."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._pacers: dict[str, tuple[Pacer, float]] = {}

    def __call__(self, key: str) -> Pacer:
        now = time.monotonic()
        if len(self._pacers) > 1000:
            idle = self.burst / self.rate + 1
            self._pacers = {k: v for k, v in self._pacers.items() if now - v[1] < idle}
        pacer = self._pacers.get(key, (Pacer(self.rate, self.burst), now))[0]
        self._pacers[key] = (pacer, now)
        return pacer
