"""The outbound queue's SMS path against a local Twilio Messages API stand-in, the status
callback route signed with twilio's RequestValidator, and `csbot outbound list`."""

from __future__ import annotations

import asyncio
import datetime as dt
import urllib.parse

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.outbound.messages import Kind
from bot.outbound.sms import enqueue_sms
from bot.outbound.worker import OutboundWorker, build_senders
from bot.store.models import OutboundMessage, SmsOptOut
from tests.support.fake_twilio import FakeTwilio

SID, TOKEN, FROM = "AC" + "1" * 32, "twilio-token-0123456789", "+15005550006"
PUBLIC = "https://bot.example.org"
TO = "+12125550111"


@pytest.fixture
def sms(runtime_factory, sqlite_url):
    with FakeTwilio(SID, TOKEN) as twilio:
        def build(**env):
            runtime = runtime_factory(
                sqlite_url, TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_FROM_NUMBER=FROM,
                TWILIO_API_BASE_URL=twilio.base_url, CSBOT_PUBLIC_URL=PUBLIC, **env,
            )
            return runtime, OutboundWorker(runtime, build_senders(runtime))
        yield twilio, build


def queue(runtime, text, to=TO):
    with runtime.sessions.begin() as session:
        enqueue_sms(session, kind=Kind.NOTICE, recipient=to, text=text, encoding="gsm7", now=dt.datetime.now(dt.UTC))


def rows(runtime):
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_queued_sms_is_sent_through_twilio_with_a_status_callback(sms):
    twilio, build = sms
    runtime, worker = build()
    queue(runtime, "Your office answered your message R-2F7K.")
    assert asyncio.run(worker.drain()) == 1
    (sent,) = twilio.messages
    assert sent == {"To": TO, "From": FROM, "Body": "Your office answered your message R-2F7K.",
                    "StatusCallback": PUBLIC + "/twilio/status"}
    (row,) = rows(runtime)
    assert row.status == "sent" and row.provider_id.startswith("SM") and row.attempts == 1


def test_a_long_text_is_queued_as_messages_of_two_segments_at_most(sms):
    twilio, build = sms
    runtime, worker = build()
    queue(runtime, "\n".join(f"Line {n} of a long answer from the office." for n in range(30)))
    asyncio.run(worker.drain())
    assert len(twilio.messages) > 1 and all(len(m["Body"]) <= 306 for m in twilio.messages)


def test_sms_rate_is_respected(sms):
    twilio, build = sms
    runtime, worker = build(CSBOT_SMS_PER_SECOND="4")
    for n in range(4):
        queue(runtime, f"Alert {n}", to=f"+1212555020{n}")
    asyncio.run(worker.drain())
    gaps = [b - a for a, b in zip(twilio.arrivals, twilio.arrivals[1:], strict=False)]
    assert len(twilio.messages) == 4 and min(gaps) >= 0.2  # 4 a second: 0.25 s apart


def test_21610_marks_the_number_opted_out_and_it_gets_nothing_more(sms):
    twilio, build = sms
    runtime, worker = build()
    twilio.fail_next(400, code=21610)
    queue(runtime, "First")
    asyncio.run(worker.drain())
    queue(runtime, "Second")
    asyncio.run(worker.drain())
    first, second = rows(runtime)
    assert first.status == "failed" and "21610" in first.last_error
    assert second.status == "suppressed" and twilio.messages == []
    with runtime.sessions() as session:
        assert session.get(SmsOptOut, TO) is not None


@pytest.mark.parametrize("status, retry_after", [(429, 120), (500, None)])
def test_429_and_500_are_retried(sms, status, retry_after):
    twilio, build = sms
    runtime, worker = build()
    twilio.fail_next(status, retry_after=retry_after)
    queue(runtime, "Try me")
    before = dt.datetime.now(dt.UTC)
    asyncio.run(worker.drain())
    (row,) = rows(runtime)
    assert row.status == "queued" and twilio.messages == []
    if retry_after:
        assert row.next_attempt_at >= before + dt.timedelta(seconds=retry_after)
    asyncio.run(worker.drain(now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
    (row,) = rows(runtime)
    assert row.status == "sent" and row.attempts == 2 and len(twilio.messages) == 1


def _signed_post(client, params, *, sign=True):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/status", params)
    return client.post("/twilio/status", content=urllib.parse.urlencode(params), headers=headers)


def test_status_callback_is_recorded_signed_only_and_never_starts_a_conversation(sms):
    from bot.web.app import create_app

    twilio, build = sms
    runtime, worker = build()
    queue(runtime, "Hello")
    asyncio.run(worker.drain())
    (row,) = rows(runtime)
    report = {"MessageSid": row.provider_id, "MessageStatus": "delivered", "From": FROM, "To": TO}
    with TestClient(create_app(runtime, background=False)) as client:
        assert _signed_post(client, report, sign=False).status_code == 403
        forged = client.post("/twilio/status", data=report, headers={"X-Twilio-Signature": "bad"})
        assert forged.status_code == 403
        assert _signed_post(client, {"MessageStatus": "delivered"}).status_code == 400
        assert _signed_post(client, {**report, "MessageSid": "SM" + "f" * 32}).status_code == 200  # unknown
        assert rows(runtime)[0].status == "sent"
        assert _signed_post(client, report).status_code == 200
    assert rows(runtime)[0].status == "delivered"
    with runtime.db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM conversations").scalar() == 0


def test_outbound_list_never_shows_the_text(sms, capsys):
    from bot.commands.outbound import list_messages

    twilio, build = sms
    runtime, worker = build()
    queue(runtime, "Secret balance 1234.56")
    list_messages(runtime, None)
    out = capsys.readouterr().out
    assert "…0111" in out and TO not in out and "1234.56" not in out and "queued" in out
    asyncio.run(worker.drain())
    list_messages(runtime, "sent")
    out = capsys.readouterr().out
    assert "sent" in out and "Secret" not in out
    list_messages(runtime, "failed")
    assert "no outbound messages" in capsys.readouterr().out
