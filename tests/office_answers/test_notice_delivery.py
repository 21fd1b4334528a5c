"""An office answer reaches the parent's phone: the CLI records it, the outbound sender delivers
the notice through the Twilio Messages API stand-in, and the text carries no answer."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.cli import main
from bot.outbound.worker import OutboundWorker, build_senders
from bot.store.models import OfficeMessage
from tests.support.fake_twilio import FakeTwilio

SID, TOKEN, FROM = "AC" + "2" * 32, "twilio-token-notice-0123", "+15005550006"
ANSWER = "Your December payment was sent on Dec 3."


def test_an_answer_from_the_cli_reaches_the_parent_by_sms_without_its_text(loaded_runtime, runtime_factory, db_url):
    now = dt.datetime.now(dt.UTC)
    with loaded_runtime.sessions.begin() as session:
        session.add(OfficeMessage(
            reference="OM-7K3F9Q2A", person_id="P-1001", case_number="CS10000001", office_code="MAN",
            role="receiving", channel="sms", sender="+12125550100", body="Where is my payment?",
            status="mailed", attempts=1, next_attempt_at=now, created_at=now, sent_at=now,
        ))
    assert main(["office-messages", "reply", "OM-7K3F9Q2A", "--text", ANSWER]) == 0
    with FakeTwilio(SID, TOKEN) as twilio:
        runtime = runtime_factory(
            db_url, TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_FROM_NUMBER=FROM,
            TWILIO_API_BASE_URL=twilio.base_url, CSBOT_PUBLIC_URL="https://bot.example.org",
        )
        assert asyncio.run(OutboundWorker(runtime, build_senders(runtime)).drain()) == 1
    (notice,) = twilio.messages
    assert notice["To"] == "+12125550100" and "OM-7K3F9Q2A" in notice["Body"] and "MESSAGES" in notice["Body"]
    assert "December" not in notice["Body"] and "Dec 3" not in notice["Body"]
