"""The outbound queue's Telegram path against the Bot API stand-in: the webhook answers before
the Bot API is called, per-chat order, deletes first, 403 and 429, and on PostgreSQL two
workers deliver each message once; a crash between send and record gives one duplicate."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.outbound.messages import Kind
from bot.outbound.queue import OutboundPolicy, claim_batch
from bot.outbound.telegram import enqueue_delete, enqueue_replies
from bot.outbound.worker import OutboundWorker, build_senders
from bot.store.models import OutboundMessage, UnreachableChat
from dialogs.replies import Reply
from tests.support.fake_bot_api import FakeBotApi, text_update
from tests.support.outbound import sender_for, wait_for_replies

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
SECRET = "webhook-Secret_0123456789"


@pytest.fixture
def api():
    with FakeBotApi(TOKEN) as fake:
        yield fake


def build(runtime_factory, url, api, **policy):
    runtime = runtime_factory(url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                              TELEGRAM_API_BASE_URL=api.base_url)
    return runtime, OutboundWorker(runtime, build_senders(runtime), policy=OutboundPolicy(**policy))


def run(worker, now=None):
    """One pass with fresh senders (their HTTP clients belong to one event loop), then close."""
    async def once():
        fresh = dataclasses.replace(worker, senders=build_senders(worker.runtime))
        try:
            return await fresh.drain(now)
        finally:
            for sender in fresh.senders.values():
                await sender.close()
    return asyncio.run(once())


def queue(runtime, chat, *texts, kind=Kind.REPLY):
    with runtime.sessions.begin() as session:
        enqueue_replies(session, str(chat), [Reply(t) for t in texts], "en", dt.datetime.now(dt.UTC), kind=kind)


def statuses(runtime):
    with runtime.sessions() as session:
        return [r.status for r in session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))]


def test_webhook_answers_before_the_bot_api_is_called_and_replies_keep_their_order(
    runtime_factory, sqlite_url, api
):
    from bot.channels.telegram.route import telegram_component
    from bot.conversation.engine import ConversationEngine
    from bot.web.app import create_app

    runtime, _ = build(runtime_factory, sqlite_url, api)
    component = telegram_component(runtime, ConversationEngine(runtime))
    with TestClient(create_app(runtime, components=[component, sender_for(component)])) as client:
        api.clear()
        api.delay = 1.0  # a slow Bot API
        started = time.monotonic()
        for text in ("/help", "/start"):
            response = client.post("/telegram/webhook", json=text_update(41000, text),
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert response.status_code == 200
        assert time.monotonic() - started < 1.0 and not api.calls_to("sendMessage")
        wait_for_replies(runtime.db, timeout=30)
    sent = [c for c in api.calls if c.method in ("sendMessage", "sendPhoto")]
    assert all(b.at >= a.at for a, b in zip(sent, sent[1:], strict=False))
    assert "888-208-4485" in sent[0].params.get("text", "")  # /help's answer came first
    assert [c.method for c in sent][-1] == "sendMessage"  # /start's welcome after /help's QR codes


def test_a_delete_goes_before_other_chats_replies(runtime_factory, sqlite_url, api):
    runtime, worker = build(runtime_factory, sqlite_url, api, batch_size=1)
    queue(runtime, 41100, "one", "two")
    with runtime.sessions.begin() as session:
        enqueue_delete(session, "41200", 77, "en", dt.datetime.now(dt.UTC))
    run(worker)
    assert api.methods()[:2] == ["deleteMessage", "sendMessage"]
    assert api.calls[1].params["chat_id"] == "41200"  # the note, then the other chat
    assert [c.params["text"] for c in api.calls_to("sendMessage")][1:] == ["one", "two"]


def test_403_marks_the_chat_unreachable_and_a_new_message_clears_it(runtime_factory, sqlite_url, api):
    from bot.channels.telegram.render import TelegramInbound, queue_outcome
    from bot.conversation.turn import Channel, InboundMessage, Outcome

    runtime, worker = build(runtime_factory, sqlite_url, api)
    api.fail("sendMessage", 403)
    queue(runtime, 41300, "one")
    run(worker)
    queue(runtime, 41300, "two")
    run(worker)
    assert statuses(runtime) == ["failed", "suppressed"]
    with runtime.sessions.begin() as session:
        assert session.get(UnreachableChat, ("telegram", "41300")) is not None
        inbound = TelegramInbound(InboundMessage(Channel.TELEGRAM, "41300", "hi"), 41300, 5, None)
        queue_outcome(inbound, session, Outcome(replies=(Reply("three"),), locale="en"), dt.datetime.now(dt.UTC))
    with runtime.sessions() as session:
        assert session.get(UnreachableChat, ("telegram", "41300")) is None
    run(worker)
    assert statuses(runtime)[-1] == "sent"


def test_429_is_honoured(runtime_factory, sqlite_url, api):
    runtime, worker = build(runtime_factory, sqlite_url, api)
    api.fail_next("sendMessage", retry_after=90)
    queue(runtime, 41400, "one", "two")
    before = dt.datetime.now(dt.UTC)
    run(worker)
    with runtime.sessions() as session:
        first, second = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
        assert first.status == "queued" and first.next_attempt_at >= before + dt.timedelta(seconds=90)
        assert second.status == "queued" and second.attempts == 0  # waits behind the first
    run(worker, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    assert [c.params["text"] for c in api.calls_to("sendMessage")] == ["one", "two"]


def test_a_crash_between_send_and_record_gives_at_most_one_duplicate(runtime_factory, sqlite_url, api):
    runtime, worker = build(runtime_factory, sqlite_url, api)
    queue(runtime, 41500, "once")
    now = dt.datetime.now(dt.UTC)
    (lease,) = claim_batch(runtime, now, worker.policy, ("telegram",))
    async def send_and_die():
        sender = build_senders(runtime)["telegram"]
        await sender.send(lease.message)  # sent; the worker dies before recording it
        await sender.close()

    asyncio.run(send_and_die())
    run(worker, now=now)  # the lease holds: nothing sent again
    assert len(api.calls_to("sendMessage")) == 1
    later = now + worker.policy.lease + dt.timedelta(seconds=1)
    run(worker, now=later)  # the lease ran out: sent again, once, and marked
    run(worker, now=later + dt.timedelta(hours=1))
    assert len(api.calls_to("sendMessage")) == 2 and statuses(runtime) == ["sent"]


@pytest.mark.postgres
def test_two_postgres_workers_deliver_each_message_exactly_once(runtime_factory, postgres_url, api):
    runtime, first = build(runtime_factory, postgres_url, api, batch_size=3)
    _, second = build(runtime_factory, postgres_url, api, batch_size=3)
    for chat in range(41600, 41620):
        queue(runtime, chat, f"{chat}-a", f"{chat}-b")

    async def both():
        await asyncio.gather(first.drain(), second.drain())
        await asyncio.gather(first.drain(), second.drain())

    asyncio.run(both())
    sent = [c.params["text"] for c in api.calls_to("sendMessage")]
    assert sorted(sent) == sorted(f"{chat}-{x}" for chat in range(41600, 41620) for x in "ab")
    for chat in range(41600, 41620):
        assert sent.index(f"{chat}-a") < sent.index(f"{chat}-b")
    assert set(statuses(runtime)) == {"sent"}
