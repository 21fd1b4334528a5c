"""The worker inside `csbot serve`: the background component and the app that runs it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from bot.outbox.queue import MAILED, QUEUED, OutboxPolicy
from bot.outbox.worker import OutboxComponent, drain_once
from tests.support.outbox import (
    T0,
    load,
    queue_message,
    seed_accounts,
    smtp_env,
    wait_for,
)

# --- csbot serve: the background component -----------------------------------------------------


def test_component_delivers_on_its_next_poll_and_stops_after_the_send_in_flight(
    db_url, runtime_factory, smtp_server, smtp_handler
):
    runtime = runtime_factory(db_url, **smtp_env(smtp_server.port))
    seed_accounts(runtime)
    policy = OutboxPolicy(poll_interval=0.1)

    async def scenario() -> None:
        component = OutboxComponent(runtime, policy=policy)
        assert component.routes == []
        await component.startup()
        now = dt.datetime.now(dt.UTC)
        first = await asyncio.to_thread(queue_message, runtime, "OM-WAKE0001", at=now)
        for _ in range(200):
            if (await asyncio.to_thread(load, runtime, first)).status == MAILED:
                break
            await asyncio.sleep(0.05)
        assert (await asyncio.to_thread(load, runtime, first)).status == MAILED

        # Three due at once, the server slow: stop during the first send.
        smtp_handler.delay = 1.0
        ids = await asyncio.to_thread(
            lambda: [queue_message(runtime, f"OM-SLOW{n:04d}", at=now) for n in range(3)]
        )
        for _ in range(200):
            if len(smtp_handler.received) == 2:
                break
            await asyncio.sleep(0.02)
        await component.shutdown()
        rows = [await asyncio.to_thread(load, runtime, i) for i in ids]
        assert rows[0].status == MAILED  # the send in flight finished and was marked
        assert [(r.status, r.attempts) for r in rows[1:]] == [(QUEUED, 0), (QUEUED, 0)]

    asyncio.run(scenario())
    assert len(smtp_handler.received) == 2


def test_no_smtp_configured_warns_at_startup_and_keeps_the_queue(
    sqlite_url, runtime_factory, caplog
):
    runtime = runtime_factory(sqlite_url)
    seed_accounts(runtime)
    ids = [queue_message(runtime, f"OM-WAIT{n:04d}") for n in range(3)]

    async def scenario() -> None:
        component = OutboxComponent(runtime)
        await component.startup()
        await component.shutdown()

    with caplog.at_level(logging.INFO, logger="csbot.outbox"):
        asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "3 office message(s) waiting" in text and "CSBOT_SMTP_HOST" in text
    assert drain_once(runtime, now=T0 + dt.timedelta(days=1)) == 0
    assert {load(runtime, i).status for i in ids} == {QUEUED}


def test_csbot_serve_app_runs_the_outbox(sqlite_url, runtime_factory, smtp_server, smtp_handler):
    from starlette.testclient import TestClient

    from bot.web.app import create_app

    runtime = runtime_factory(sqlite_url, **smtp_env(smtp_server.port))
    seed_accounts(runtime)
    message_id = queue_message(runtime, "OM-SERVE001", at=dt.datetime.now(dt.UTC))
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").status_code == 200
        wait_for(lambda: load(runtime, message_id).status == MAILED)
    assert smtp_handler.message_ids() == ["<OM-SERVE001@csbot.agency.example.org>"]
