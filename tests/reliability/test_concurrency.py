"""Two `csbot serve` workers on PostgreSQL, 50 numbers at once, each verifying and then
sending a burst of 5 messages at the same instant: no 5xx, no apology (no deadlock, no
serialization error), every request handled once, and each number's final state is what its
sequence implies (verified as its person, at rest, nothing locked or failed)."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from sqlalchemy import select

from bot.store.models import AccountLock, Conversation, HandledDelivery, VerificationFailure
from tests.support.dialog_harness import AMINATA, CLAUDE, DANA, JAMES, MARIA
from tests.support.live_service import APOLOGY, Sms, async_send, both_channels_env, count_rows, db_engine, load_example

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PEOPLE = [MARIA, JAMES, AMINATA, CLAUDE, DANA]
SENDERS = 50
BURST = ["BALANCE", "PAYMENTS", "HELP", "STATEMENT", "MENU"]


def test_fifty_senders_with_bursts_on_two_workers(postgres_url: str, serve) -> None:
    env = both_channels_env(postgres_url, None)
    load_example(env)
    server = serve(env, workers=2)
    assert server.log_text().count("Started server process") >= 2
    sms = Sms(server)
    senders = [f"+1646555{4000 + n}" for n in range(SENDERS)]
    results: list[tuple[str, str, int | None, list[str]]] = []

    async def one_sender(http: httpx.AsyncClient, n: int) -> None:
        sender, person = senders[n], PEOPLE[n % len(PEOPLE)]
        for text in ("MENU", person["ssn"], person["pin"]):
            status, messages, _sid = await async_send(http, sms, sender, text)
            results.append((sender, text, status, messages))
        burst = await asyncio.gather(*(async_send(http, sms, sender, text) for text in BURST))
        results.extend((sender, text, status, messages) for text, (status, messages, _sid) in zip(BURST, burst, strict=True))

    async def everyone() -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            await asyncio.gather(*(one_sender(http, n) for n in range(SENDERS)))

    asyncio.run(everyone())
    assert len(results) == SENDERS * 8
    assert {status for _s, _t, status, _m in results} == {200}
    for sender, text, _status, messages in results:
        joined = "\n".join(messages)
        assert joined and APOLOGY not in joined, (sender, text, joined)

    db = db_engine(postgres_url)
    try:
        assert count_rows(db, HandledDelivery) == len(results)
        assert count_rows(db, VerificationFailure) == 0 and count_rows(db, AccountLock) == 0
        with db.connect() as conn:
            rows = {
                row.sender: row
                for row in conn.execute(
                    select(Conversation.sender, Conversation.person_id, Conversation.state).where(
                        Conversation.channel == "sms"
                    )
                )
            }
        assert set(rows) == set(senders)
        for n, sender in enumerate(senders):
            assert rows[sender].person_id == PEOPLE[n % len(PEOPLE)]["id"]
            assert rows[sender].state == "idle"
    finally:
        db.dispose()
    sms.close()
    assert server.stop() in (0, -signal.SIGTERM)  # uvicorn may re-raise SIGTERM after a clean stop
    log = server.log_text()
    assert "Traceback" not in log and " ERROR " not in log
