"""Housekeeping that keeps the bot's own tables from growing without bound.

Handled delivery ids only need to outlive the channels' redelivery windows (Twilio retries
within minutes, Telegram keeps an update for at most 24 hours), and verification failures only
matter for the one-hour throttle window. A document link's count of opens matters only until
the link expires (15 minutes). Audit records, office messages and PIN requests are
records of what happened and are never pruned here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

import anyio
from sqlalchemy import delete
from starlette.routing import BaseRoute

from bot.runtime import Runtime
from bot.store.models import DocumentLinkOpen, HandledDelivery, VerificationFailure

log = logging.getLogger(__name__)

DELIVERY_RETENTION = dt.timedelta(days=7)
FAILURE_RETENTION = dt.timedelta(days=2)
PRUNE_INTERVAL_SECONDS = 3600


@dataclass(frozen=True)
class PruneReport:
    deliveries: int
    failures: int
    link_opens: int = 0


def prune(runtime: Runtime, now: dt.datetime | None = None) -> PruneReport:
    now = now or dt.datetime.now(dt.UTC)
    with runtime.write() as session:
        connection = session.connection()  # Core DELETE: its result carries the row count
        deliveries = connection.execute(
            delete(HandledDelivery).where(HandledDelivery.handled_at < now - DELIVERY_RETENTION)
        ).rowcount
        failures = connection.execute(
            delete(VerificationFailure).where(VerificationFailure.at < now - FAILURE_RETENTION)
        ).rowcount
        link_opens = connection.execute(
            delete(DocumentLinkOpen).where(DocumentLinkOpen.expires_at < now)
        ).rowcount
    return PruneReport(deliveries=deliveries or 0, failures=failures or 0, link_opens=link_opens or 0)


class MaintenanceComponent:
    """Runs `prune` shortly after start-up and then every hour inside `csbot serve`."""

    def __init__(self, runtime: Runtime, interval: float = PRUNE_INTERVAL_SECONDS) -> None:
        self.runtime = runtime
        self.interval = interval
        self.routes: list[BaseRoute] = []
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="csbot-maintenance")

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            try:
                report = await anyio.to_thread.run_sync(prune, self.runtime)
                if report.deliveries or report.failures:
                    log.info(
                        "pruned %d handled delivery ids and %d old verification failures",
                        report.deliveries, report.failures,
                    )
            except Exception as exc:  # the next round tries again; serving goes on
                log.warning("maintenance: prune failed (%s)", type(exc).__name__)
            await asyncio.sleep(self.interval)


def maintenance_component(runtime: Runtime) -> MaintenanceComponent:
    return MaintenanceComponent(runtime)
