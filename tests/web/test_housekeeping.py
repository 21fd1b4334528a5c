from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from bot.runtime import open_runtime
from bot.store.models import HandledDelivery, VerificationFailure
from bot.web.housekeeping import MaintenanceComponent, prune

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def _seed(runtime):
    with runtime.sessions() as s, s.begin():
        for days in (0, 6, 8, 30):
            s.add(HandledDelivery(channel="sms", delivery_id=f"SM{days}", handled_at=NOW - dt.timedelta(days=days)))
        for hours in (0, 1, 47, 49):
            s.add(VerificationFailure(channel="sms", sender="+1", at=NOW - dt.timedelta(hours=hours)))


def _ids(runtime):
    with runtime.sessions() as s:
        deliveries = set(s.scalars(select(HandledDelivery.delivery_id)))
        failures = s.scalar(select(func.count()).select_from(VerificationFailure))
    return deliveries, failures


def test_prune_keeps_what_the_redelivery_and_throttle_windows_need(make_settings, db_url):
    runtime = open_runtime(make_settings(db_url))
    _seed(runtime)
    report = prune(runtime, NOW)
    assert (report.deliveries, report.failures) == (2, 1)
    assert _ids(runtime) == ({"SM0", "SM6"}, 3)
    assert prune(runtime, NOW) == type(report)(0, 0)
    runtime.dispose()


def test_component_prunes_at_start_up(make_settings, sqlite_url):
    runtime = open_runtime(make_settings(sqlite_url))
    with runtime.sessions() as s, s.begin():
        s.add(HandledDelivery(channel="sms", delivery_id="old", handled_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=9)))

    async def run() -> None:
        component = MaintenanceComponent(runtime, interval=3600)
        await component.startup()
        for _ in range(100):
            if not _ids(runtime)[0]:
                break
            await asyncio.sleep(0.05)
        await component.shutdown()

    asyncio.run(run())
    assert _ids(runtime)[0] == set()
    runtime.dispose()


def test_prune_drops_link_counts_once_their_link_expired(make_settings, db_url):
    from bot.store.models import DocumentLinkOpen

    runtime = open_runtime(make_settings(db_url))
    with runtime.sessions() as s, s.begin():
        s.add(DocumentLinkOpen(token_digest="a" * 64, opens=3, expires_at=NOW - dt.timedelta(minutes=1)))
        s.add(DocumentLinkOpen(token_digest="b" * 64, opens=10, expires_at=NOW + dt.timedelta(minutes=5)))
    assert prune(runtime, NOW).link_opens == 1
    with runtime.sessions() as s:
        assert list(s.scalars(select(DocumentLinkOpen.token_digest))) == ["b" * 64]
    runtime.dispose()
