"""The alerts' background work inside `csbot serve` and `csbot worker`, and `csbot alerts
check-due`: the daily coupon check (once a local day, and at start) and the dispatch of
events into alerts (every half minute: it picks up what an import recorded, and anything a
crash left undispatched).

Every step is idempotent (unique keys), so several processes may run it at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
from starlette.routing import BaseRoute

from bot.alerts.delivery import DispatchReport, dispatch
from bot.alerts.events import record_due_coupons
from bot.background import stop_within
from bot.clock import utcnow
from bot.outbound.messages import Doorbell
from bot.outbound.quiet import local_today
from bot.runtime import Runtime

log = logging.getLogger("csbot.alerts")
DISPATCH_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True)
class CheckReport:
    coupon_events: int
    dispatched: DispatchReport


def check_due(runtime: Runtime, now: dt.datetime) -> int:
    """Record coupon_due events for coupons due within 3 days of today (local); how many new."""
    with runtime.write() as session:
        return record_due_coupons(session.connection(), local_today(now, runtime.settings.timezone), now)


def check_and_dispatch(runtime: Runtime, now: dt.datetime) -> CheckReport:
    found = check_due(runtime, now)
    return CheckReport(found, dispatch(runtime, now))


class AlertsComponent:
    """The loop, as a background part of a process (no routes)."""

    def __init__(self, runtime: Runtime, doorbell: Doorbell | None = None,
                 clock: Callable[[], dt.datetime] = utcnow, interval: float = DISPATCH_INTERVAL_SECONDS) -> None:
        self.routes: list[BaseRoute] = []
        self.runtime = runtime
        self.doorbell = doorbell
        self.clock = clock
        self.interval = interval
        self._checked: dt.date | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def run_once(self) -> CheckReport | DispatchReport:
        now = self.clock()
        today = local_today(now, self.runtime.settings.timezone)
        if today != self._checked:
            report: CheckReport | DispatchReport = check_and_dispatch(self.runtime, now)
            self._checked = today
        else:
            report = dispatch(self.runtime, now)
        return report

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = await anyio.to_thread.run_sync(self.run_once)
                dispatched = report.dispatched if isinstance(report, CheckReport) else report
                if isinstance(report, CheckReport) and report.coupon_events:
                    log.info("alerts: %d coupon(s) due within 3 days", report.coupon_events)
                if dispatched.events:
                    log.info("alerts: %d event(s) dispatched: %d alert(s) queued, %d not sent",
                             dispatched.events, dispatched.queued, dispatched.suppressed)
                    if dispatched.queued and self.doorbell is not None:
                        self.doorbell.ring()
            except Exception as exc:  # the database is down, say: the next round tries again
                log.warning("alerts: check failed (%s)", type(exc).__name__)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass

    async def startup(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="csbot-alerts")

    async def shutdown(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        await stop_within(task, 10.0, "alerts", log)
