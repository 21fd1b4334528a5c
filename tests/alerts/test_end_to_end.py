"""Alerts through a running `csbot serve`: a Telegram chat turns alerts on over the webhook,
`csbot import` of a new disbursement dated today queues the alert, and the service's own
sender delivers it to the Bot API stand-in, with its buttons; `csbot alerts list` says sent."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from tests.support.dialog_harness import AMINATA, MARIA
from tests.support.outbound import wait_for_replies
from tests.support.serve_process import run_csbot
from tests.support.sms_checks import within_sms_budget

pytestmark = pytest.mark.slow
CHAT = 7301001


def test_an_imported_disbursement_reaches_a_consenting_telegram_chat(stack, tmp_path):
    server, _db, _sms, telegram = stack
    assert "Social Security number" in telegram.say(CHAT, "ALERTS ON")
    telegram.say(CHAT, MARIA["ssn"])
    assert "Alerts are on for this chat" in telegram.say(CHAT, MARIA["pin"])

    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    extract = tmp_path / "today.json"
    extract.write_text(json.dumps({
        "format": "csbot-import/1", "as_of": today.isoformat(),
        "disbursements": [{"id": "E2E-D1", "case_number": "CS10000001", "date": today.isoformat(),
                           "amount": "450.00", "method": "direct_deposit"}],
    }))
    imported = run_csbot(server.env, "import", "--quiet", str(extract))
    assert imported.returncode == 0, imported.stderr
    assert "alerts: 1 new payment(s) or disbursement(s) to alert; 1 alert(s) queued" in imported.stdout

    def alerted(api) -> bool:
        return any("a payment was sent to you" in str(c.params.get("text", "")) for c in api.calls_to("sendMessage"))

    telegram.api.wait_for(alerted, timeout=30)
    wait_for_replies(server.env["CSBOT_DATABASE_URL"])  # marked sent right after the Bot API answered
    (call,) = [c for c in telegram.api.calls_to("sendMessage") if "a payment was sent to you" in str(c.params["text"])]
    assert call.param("chat_id") == CHAT
    assert [row[0]["callback_data"] for row in call.param("reply_markup")["inline_keyboard"]] == ["BALANCE", "ALERTS OFF"]

    again = run_csbot(server.env, "import", "--quiet", str(extract))
    assert again.returncode == 0 and "alerts:" not in again.stdout  # nothing new the second time
    listed = run_csbot(server.env, "alerts", "list", "--status", "sent")
    assert listed.returncode == 0 and "payment_sent" in listed.stdout and str(CHAT) not in listed.stdout
    assert "…1001" in listed.stdout


def test_alerts_over_sms_signed_like_twilio_within_the_sms_budget(stack):
    _server, _db, sms, _telegram = stack
    phone = "+17185550177"
    sms.verify(phone, AMINATA)  # French, receiving on one case and paying on another: the longest text
    replies = sms.send(phone, "ALERTES OUI")
    assert replies[0].startswith("Les alertes sont activées pour cette conversation.")
    assert all(within_sms_budget(reply) for reply in replies)
    shown = sms.send(phone, "ALERTES")
    assert "Envoyez ALERTES NON" in " ".join(shown) and all(within_sms_budget(r) for r in shown)
    assert sms.send(phone, "STOP") and sms.send(phone, "ALERTES") == []  # silent after STOP
    sms.send(phone, "START")
    assert "désactivées" in sms.say(phone, "ALERTES")  # STOP withdrew consent; START did not restore it
