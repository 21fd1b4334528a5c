"""What keeps a claim short, since it runs inside the write transaction every webhook also
needs: it walks an index and stops at its batch, silences a batch in two queries, takes the
process's one writer lock, and httpcore's per-request check does not search the file system."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import threading
import time

import pytest
from sqlalchemy import select

from bot.outbound.messages import Kind, enqueue
from bot.outbound.queue import QUEUED, SENDING, OutboundPolicy, claim_batch, claim_query
from bot.store.models import OutboundMessage, SmsOptOut, UnreachableChat

NOW = dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)


def queue_many(runtime, chats: int, per_chat: int, channel: str = "telegram") -> None:
    with runtime.write() as session:
        for n in range(per_chat):
            for chat in range(chats):
                enqueue(session, kind=Kind.REPLY, channel=channel, recipient=str(5000 + chat),
                        payload={"text": f"{n}"}, now=NOW)


@pytest.mark.parametrize("quiet", [False, True], ids=["day", "quiet hours"])
@pytest.mark.parametrize("status", [QUEUED, SENDING])
def test_the_claim_walks_the_claim_order_index_without_sorting(runtime_factory, sqlite_url, status, quiet):
    runtime = runtime_factory(sqlite_url)
    queue_many(runtime, chats=20, per_chat=50)
    query = claim_query(status, NOW, ["telegram", "sms"], 30, quiet)
    compiled = query.compile(runtime.db, compile_kwargs={"literal_binds": True})
    with runtime.db.connect() as conn:
        plan = " | ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_outbound_messages_claim_order" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # a sort of the whole backlog
    if quiet:  # the walk stops where the held priorities begin, not after every held alert
        assert "priority<?" in plan.replace(" ", ""), plan


def test_a_batch_claims_the_first_message_of_each_chat_and_suppresses_silenced_chats(runtime_factory, sqlite_url):
    runtime = runtime_factory(sqlite_url)
    queue_many(runtime, chats=4, per_chat=3)
    queue_many(runtime, chats=2, per_chat=1, channel="sms")
    with runtime.write() as session:
        session.add(UnreachableChat(channel="telegram", recipient="5001", marked_at=NOW))
        session.add(SmsOptOut(phone="5000", opted_out_at=NOW))
    leases = claim_batch(runtime, NOW, OutboundPolicy(batch_size=30), ("telegram", "sms"))
    assert sorted((lease.message.channel, lease.message.recipient) for lease in leases) == [
        ("sms", "5001"), ("telegram", "5000"), ("telegram", "5002"), ("telegram", "5003")]
    assert all(lease.message.payload == {"text": "0"} and lease.message.attempts == 1 for lease in leases)
    with runtime.sessions() as session:
        rows = session.execute(select(OutboundMessage.channel, OutboundMessage.recipient, OutboundMessage.status,
                                      OutboundMessage.attempts)).all()
    suppressed = sorted((c, r) for c, r, status, _ in rows if status == "suppressed")
    assert suppressed == [("sms", "5000"), ("telegram", "5001")]  # only their first message so far
    assert {(c, r, a) for c, r, status, a in rows if status == SENDING} == {
        (lease.message.channel, lease.message.recipient, 1) for lease in leases}


def test_outbound_writes_wait_for_the_process_writer_lock(runtime_factory, sqlite_url):
    """The webhook's step and the sender's claims take turns on one lock instead of SQLite's
    sleeping busy handler (which made webhooks wait tens of milliseconds behind a claim)."""
    runtime = runtime_factory(sqlite_url)
    queue_many(runtime, chats=1, per_chat=1)
    claimed: list[float] = []
    runtime.writer.acquire()
    worker = threading.Thread(target=lambda: claimed.append(
        len(claim_batch(runtime, NOW, OutboundPolicy(), ("telegram",))) and time.monotonic()))
    worker.start()
    time.sleep(0.3)
    released_at = time.monotonic()
    assert claimed == [], "the claim ran while another writer of this process held the lock"
    runtime.writer.release()
    worker.join(5)
    assert claimed and claimed[0] >= released_at


def test_httpcore_finds_its_async_library_without_searching_the_file_system(monkeypatch):
    """httpcore asks which async library runs on every request and pooled-connection close;
    without sniffio installed that is a failed import, a file-system search each time
    (profiled: a tenth of the sender's CPU)."""
    from httpcore._synchronization import current_async_library

    searches: list[str] = []

    class Spy:
        @staticmethod
        def find_spec(name, path=None, target=None):
            searches.append(name)
            return None

    monkeypatch.setattr(sys, "meta_path", [Spy(), *sys.meta_path])

    async def ask() -> str:
        return current_async_library()

    assert asyncio.run(ask()) == "asyncio"
    assert searches == []
