"""Alerts on the wire: SMS through the Twilio Messages API stand-in, Telegram through the Bot
API stand-in (buttons); audited when sent; 21610 and 403 withdraw consent; quiet hours hold
alerts and notices but never a reply; replies leave before a burst of alerts; `csbot alerts
list` with reasons and masked recipients, never the text."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from bot.alerts.delivery import dispatch
from bot.alerts.listing import alert_lines
from bot.cli import main
from bot.conversation.turn import Channel
from bot.outbound.messages import Kind, enqueue
from bot.outbound.queue import OutboundPolicy, claim_batch
from bot.outbound.quiet import QuietHours
from bot.outbound.worker import OutboundWorker, build_senders
from bot.store.models import AlertConsent, AuditRecord, OutboundMessage
from tests.alerts.conftest import NOV_26, alerts, disbursement, extract, import_at, messages, turn_on
from tests.support.databases import EXAMPLE_EXTRACT
from tests.support.dialog_harness import MARIA
from tests.support.fake_bot_api import FakeBotApi
from tests.support.fake_twilio import FakeTwilio

SID, TOKEN, FROM = "AC" + "2" * 32, "twilio-token-alerts-0123456789", "+15005550006"
BOT_TOKEN, SECRET = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq", "webhook-Secret_0123456789"
MARIA_PHONE, MARIA_CHAT = "+12125550111", "5554242"
NIGHT = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # 22:00 in New York
MORNING = dt.datetime(2026, 11, 27, 13, 0, tzinfo=dt.UTC)  # 08:00 in New York


@pytest.fixture
def wire(db_url, runtime_factory):
    """Both senders on stand-ins, the example extract loaded long before its records."""
    with FakeTwilio(SID, TOKEN) as twilio, FakeBotApi(BOT_TOKEN) as api:
        def build(**env: str):
            runtime = runtime_factory(
                db_url, TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_FROM_NUMBER=FROM,
                TWILIO_API_BASE_URL=twilio.base_url, TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                TELEGRAM_API_BASE_URL=api.base_url, CSBOT_SMS_PER_SECOND="50", **env,
            )
            import_at(runtime, str(EXAMPLE_EXTRACT), dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
            return runtime
        yield twilio, api, build


def drain(runtime, now=None):
    """One pass with fresh senders (their HTTP clients belong to one event loop), then close."""
    async def once():
        worker = OutboundWorker(runtime, build_senders(runtime))
        try:
            return await worker.drain(now)
        finally:
            for sender in worker.senders.values():
                await sender.close()
    return asyncio.run(once())


def new_disbursement(runtime, record_id="CS10000001-D6", now=NOV_26):
    import_at(runtime, extract(disbursements=[disbursement(record_id, "2026-11-25")]), now)
    return dispatch(runtime, now)


def consent_of(runtime):
    with runtime.sessions() as session:
        return list(session.scalars(select(AlertConsent).order_by(AlertConsent.id)))


def test_an_sms_alert_is_sent_once_and_audited_like_an_account_view(wire):
    twilio, _api, build = wire
    runtime = build()
    turn_on(runtime, MARIA, sender=MARIA_PHONE)
    new_disbursement(runtime)
    drain(runtime)
    assert twilio.messages == [{
        "To": MARIA_PHONE, "From": FROM, "StatusCallback": "http://127.0.0.1:8080/twilio/status",
        "Body": "NYS Child Support: a payment was sent to you on Nov 25. Send BALANCE to see it (PIN needed)."
                " Send ALERTS OFF to stop alerts.",
    }]
    with runtime.sessions() as session:
        audits = list(session.scalars(select(AuditRecord).where(AuditRecord.record_kind == "alert")))
    assert [(a.person_id, a.channel, a.sender) for a in audits] == [("P-1001", "sms", MARIA_PHONE)]
    drain(runtime)
    assert len(twilio.messages) == 1
    assert new_disbursement(runtime).events == 0  # the same record again: nothing new


def test_a_telegram_alert_has_the_same_text_with_buttons(wire):
    _twilio, api, build = wire
    runtime = build()
    turn_on(runtime, MARIA, sender=MARIA_CHAT, channel=Channel.TELEGRAM)
    new_disbursement(runtime)
    drain(runtime)
    (call,) = api.calls_to("sendMessage")
    assert call.param("chat_id") == int(MARIA_CHAT)
    assert call.param("text").startswith("NYS Child Support: a payment was sent to you on Nov 25.")
    buttons = [row[0]["callback_data"] for row in call.param("reply_markup")["inline_keyboard"]]
    assert buttons == ["BALANCE", "ALERTS OFF"]


def test_twilio_21610_withdraws_consent(wire):
    twilio, _api, build = wire
    runtime = build()
    turn_on(runtime, MARIA, sender=MARIA_PHONE)
    new_disbursement(runtime)
    twilio.fail_next(400, code=21610)
    drain(runtime)
    (consent,) = consent_of(runtime)
    assert consent.withdrawn_reason == "unsubscribed" and consent.withdrawn_at is not None
    assert [(a.status, a.reason) for a in alerts(runtime)] == [("suppressed", "opted out")]
    new_disbursement(runtime, "CS10000001-D7")
    assert alerts(runtime)[-1].reason == "opted out" and len(messages(runtime)) == 1


def test_a_telegram_chat_that_blocked_the_bot_withdraws_consent(wire, capsys):
    _twilio, api, build = wire
    runtime = build()
    turn_on(runtime, MARIA, sender=MARIA_CHAT, channel=Channel.TELEGRAM)
    new_disbursement(runtime)
    api.fail("sendMessage", 403)
    drain(runtime)
    assert consent_of(runtime)[0].withdrawn_reason == "blocked"
    assert main(["alerts", "list", "--status", "suppressed"]) == 0
    listing = capsys.readouterr().out
    assert "unreachable" in listing and "…4242" in listing and "payment was sent" not in listing


def test_quiet_hours_hold_alerts_and_notices_but_never_a_reply(wire, capsys):
    twilio, _api, build = wire
    runtime = build(CSBOT_QUIET_HOURS="21:00-08:00", CSBOT_TIMEZONE="America/New_York")
    turn_on(runtime, MARIA, sender=MARIA_PHONE)
    new_disbursement(runtime, now=NIGHT)
    with runtime.sessions.begin() as session:
        enqueue(session, kind=Kind.NOTICE, channel="sms", recipient="+12125550122", payload={"text": "A notice"},
                now=NIGHT)
        # The parent writes at night: the answer goes at once, past the alert held in the same chat.
        enqueue(session, kind=Kind.REPLY, channel="sms", recipient=MARIA_PHONE, payload={"text": "A reply"},
                now=NIGHT)
    drain(runtime, NIGHT)
    drain(runtime, NIGHT + dt.timedelta(hours=9))  # 07:00 in New York: still quiet
    assert [m["Body"] for m in twilio.messages] == ["A reply"]
    worker = OutboundWorker(runtime, {})
    assert worker.quiet_hours is not None and worker.quiet_hours.holds(NIGHT)
    drain(runtime, MORNING)
    # Then the notice (priority 2) and the alert (3).
    assert [m["Body"][:20] for m in twilio.messages] == ["A reply", "A notice", "NYS Child Support: a"]


def test_alerts_list_gives_quiet_hours_as_the_reason_a_held_alert_waits(wire, capsys):
    _twilio, _api, build = wire
    runtime = build(CSBOT_QUIET_HOURS="21:00-08:00", CSBOT_TIMEZONE="America/New_York")
    turn_on(runtime, MARIA, sender=MARIA_PHONE)
    new_disbursement(runtime, now=NIGHT)
    quiet = QuietHours.from_settings("21:00-08:00", "America/New_York")
    with runtime.sessions() as session:
        (night,) = alert_lines(session, "pending", NIGHT, quiet, 10)
        (morning,) = alert_lines(session, "pending", MORNING, quiet, 10)
    assert (night.status, night.reason) == ("pending", "quiet hours") and morning.reason == ""
    assert main(["alerts", "list", "--status", "pending"]) == 0
    listing = capsys.readouterr().out
    assert "payment_sent" in listing and "…0111" in listing
    assert MARIA_PHONE not in listing and "Send BALANCE" not in listing  # masked, and never the text


def test_replies_leave_before_a_burst_of_alerts(wire):
    _twilio, _api, build = wire
    runtime = build()
    now = dt.datetime.now(dt.UTC)
    with runtime.sessions.begin() as session:
        for n in range(3000):
            enqueue(session, kind=Kind.ALERT, channel="telegram", recipient=str(100000 + n),
                    payload={"text": "alert", "choices": [], "document": None, "links": [], "locale": "en"}, now=now)
        enqueue(session, kind=Kind.REPLY, channel="telegram", recipient="99", payload={
            "text": "reply", "choices": [], "document": None, "links": [], "locale": "en"}, now=now)
    leases = claim_batch(runtime, now, OutboundPolicy(), ["telegram"])
    assert leases[0].message.kind == Kind.REPLY and leases[0].message.recipient == "99"
    assert all(lease.message.kind == Kind.ALERT for lease in leases[1:])


def test_a_reply_queued_during_a_burst_overtakes_it_on_the_wire(wire):
    _twilio, api, build = wire
    runtime = build()
    now = dt.datetime.now(dt.UTC)
    with runtime.sessions.begin() as session:
        for n in range(300):
            enqueue(session, kind=Kind.ALERT, channel="telegram", recipient=str(200000 + n),
                    payload={"text": f"alert {n}", "choices": [], "document": None, "links": [], "locale": "en"},
                    now=now)
        enqueue(session, kind=Kind.REPLY, channel="telegram", recipient="99", payload={
            "text": "reply", "choices": [], "document": None, "links": [], "locale": "en"}, now=now)
    policy = OutboundPolicy(batch_size=30)

    async def first_batches():
        worker = dataclasses.replace(OutboundWorker(runtime, build_senders(runtime)), policy=policy)
        try:
            leases = claim_batch(runtime, now, policy, ["telegram"])
            await asyncio.gather(*(worker._deliver(lease, now) for lease in leases))
        finally:
            for sender in worker.senders.values():
                await sender.close()
    asyncio.run(first_batches())
    sent = [call.param("text") for call in api.calls_to("sendMessage")]
    assert "reply" in sent and len(sent) == 30
    with runtime.sessions() as session:
        waiting = session.scalar(select(OutboundMessage.id).where(OutboundMessage.status == "queued").limit(1))
    assert waiting is not None  # the burst drains at the channel's rate, batch after batch
