"""Outages, backoff, the last attempt and staff retry; concurrent workers and locked rows."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select, update

from bot.outbox.queue import FAILED, MAILED, QUEUED, OutboxPolicy, claim_batch
from bot.outbox.worker import drain_once
from bot.store.models import OfficeMessage
from tests.support.outbox import (
    T0,
    SmtpServer,
    free_port,
    load,
    queue_message,
    seed_accounts,
    smtp_env,
)

# --- outages, backoff, failure and retry ---------------------------------------------------------


def test_smtp_down_backs_off_with_jitter_then_delivers_once(db_url, runtime_factory, smtp_handler):
    port = free_port()  # nothing listens here yet
    runtime = runtime_factory(db_url, **smtp_env(port))
    seed_accounts(runtime)
    ids = [queue_message(runtime, f"OM-DOWN{n:04d}") for n in range(5)]
    policy = OutboxPolicy(backoff_base=dt.timedelta(seconds=30))
    rng = random.Random(7)

    assert drain_once(runtime, now=T0, policy=policy, rng=rng) == 0
    rows = [load(runtime, i) for i in ids]
    delays = [(r.next_attempt_at - T0).total_seconds() for r in rows]
    assert all(r.status == QUEUED and r.attempts == 1 for r in rows)
    assert all(1.0 <= d <= 30.0 for d in delays), delays
    assert len(set(delays)) == len(delays)  # jittered, not in lockstep
    assert all("cannot connect" in r.last_error for r in rows)

    # Not yet due: nothing is tried, nothing changes.
    assert drain_once(runtime, now=T0, policy=policy, rng=rng) == 0
    assert [load(runtime, i).attempts for i in ids] == [1] * 5

    t1 = T0 + dt.timedelta(seconds=31)
    assert drain_once(runtime, now=t1, policy=policy, rng=rng) == 0
    rows = [load(runtime, i) for i in ids]
    assert all(r.attempts == 2 for r in rows)
    assert all(1.0 <= (r.next_attempt_at - t1).total_seconds() <= 60.0 for r in rows)

    server = SmtpServer(port, smtp_handler)
    server.start()
    try:
        t2 = t1 + dt.timedelta(seconds=61)
        assert drain_once(runtime, now=t2, policy=policy, rng=rng) == 5
        assert drain_once(runtime, now=t2 + dt.timedelta(days=1), policy=policy, rng=rng) == 0
    finally:
        server.stop()
    counts = Counter(smtp_handler.message_ids())
    assert sorted(counts) == sorted(f"<OM-DOWN{n:04d}@csbot.agency.example.org>" for n in range(5))
    assert set(counts.values()) == {1}
    assert all(load(runtime, i).status == MAILED for i in ids)


def test_backoff_grows_exponentially_up_to_the_cap():
    policy = OutboxPolicy(
        backoff_base=dt.timedelta(seconds=30), backoff_cap=dt.timedelta(hours=1)
    )
    ceilings = [policy.backoff_ceiling(n).total_seconds() for n in range(1, 10)]
    assert ceilings == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    rng = random.Random(1)
    samples = [policy.backoff(4, rng).total_seconds() for _ in range(200)]
    assert min(samples) >= 1.0 and max(samples) <= 240.0
    assert max(samples) > 120.0 and min(samples) < 60.0  # spread over the whole range


def test_default_backoff_rides_out_about_three_hours_of_outage_at_most():
    """The figure bot/outbox/queue.py (OutboxPolicy) and the README give: the nine waits
    between ten attempts total at most 11,010 s (about 3 h), half that (about 1.5 h) on
    average. Changing the policy changes this number and must change the documents too."""
    policy = OutboxPolicy()
    ceilings = [policy.backoff_ceiling(n) for n in range(1, policy.max_attempts)]
    assert policy.max_outage() == sum(ceilings, dt.timedelta())
    assert policy.max_outage() == dt.timedelta(seconds=11_010)
    assert dt.timedelta(hours=3) <= policy.max_outage() < dt.timedelta(hours=3, minutes=5)
    assert dt.timedelta(hours=1.5) <= policy.max_outage() / 2 < dt.timedelta(hours=1.6)


def test_last_attempt_marks_failed_and_retry_delivers(db_url, runtime_factory, smtp_handler):
    port = free_port()
    runtime = runtime_factory(db_url, **smtp_env(port))
    seed_accounts(runtime)
    message_id = queue_message(runtime, "OM-FAILME01")
    policy = OutboxPolicy(max_attempts=3)
    now = T0
    for attempt in range(1, 4):
        assert drain_once(runtime, now=now, policy=policy) == 0
        row = load(runtime, message_id)
        assert row.attempts == attempt
        now = now + policy.backoff_cap + dt.timedelta(seconds=1)
    assert row.status == FAILED
    assert "cannot connect" in row.last_error
    # A failed message stays put however long we wait.
    assert drain_once(runtime, now=now + dt.timedelta(days=30), policy=policy) == 0
    assert load(runtime, message_id).status == FAILED

    # What `csbot office-messages retry` does.
    with runtime.sessions.begin() as session:
        session.execute(
            update(OfficeMessage)
            .where(OfficeMessage.id == message_id)
            .values(status=QUEUED, attempts=0, next_attempt_at=now)
        )
    server = SmtpServer(port, smtp_handler)
    server.start()
    try:
        assert drain_once(runtime, now=now, policy=policy) == 1
    finally:
        server.stop()
    row = load(runtime, message_id)
    assert (row.status, row.attempts) == (MAILED, 1)
    assert smtp_handler.message_ids() == ["<OM-FAILME01@csbot.agency.example.org>"]


# --- concurrency -----------------------------------------------------------------------------------


def test_two_workers_deliver_each_message_exactly_once(db_url, runtime_factory, smtp_server, smtp_handler):
    smtp_handler.delay = 0.005  # keep sends in flight so the claims overlap
    setup = runtime_factory(db_url, **smtp_env(smtp_server.port))
    seed_accounts(setup)
    for n in range(50):
        queue_message(setup, f"OM-PAR{n:05d}")
    workers = [runtime_factory(db_url, **smtp_env(smtp_server.port)) for _ in range(2)]
    sent = [0, 0]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def drain(index: int) -> None:
        try:
            barrier.wait()
            while True:
                count = drain_once(workers[index], now=T0)
                sent[index] += count
                if count == 0:
                    return
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(sent) == 50, sent
    counts = Counter(smtp_handler.message_ids())
    assert len(counts) == 50 and set(counts.values()) == {1}
    with setup.sessions() as session:
        statuses = Counter(session.scalars(select(OfficeMessage.status)))
        attempts = set(session.scalars(select(OfficeMessage.attempts)))
    assert statuses == {MAILED: 50} and attempts == {1}


@pytest.mark.postgres
def test_claims_skip_rows_another_worker_holds(postgres_url, runtime_factory):
    """A claim on PostgreSQL never waits for, nor takes, a row locked by another transaction."""
    runtime = runtime_factory(postgres_url, **smtp_env(free_port()))
    seed_accounts(runtime)
    held = queue_message(runtime, "OM-HELD0001")
    free = queue_message(runtime, "OM-FREE0001")
    with runtime.sessions.begin() as other:
        other.execute(select(OfficeMessage).where(OfficeMessage.id == held).with_for_update())
        started = time.monotonic()
        claimed = claim_batch(runtime, T0, OutboxPolicy())
        assert time.monotonic() - started < 5
    assert [c.id for c in claimed] == [free]
