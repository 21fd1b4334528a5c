"""ALERTS, ALERTS ON, ALERTS OFF (ALERTES, ALERTES OUI, ALERTES NON) through the engine and the
real store, no channel: consent is per chat, needs a verified chat, records what was shown;
OFF and STOP withdraw it, with the reason, and the record stays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.conversation.turn import Channel
from bot.store.models import AlertConsent
from tests.support.dialog_harness import AMINATA, JAMES, MARIA, START, make_bot

PHONE = "+12125550100"


def consents(runtime):
    with runtime.sessions() as session:
        return list(session.scalars(select(AlertConsent).order_by(AlertConsent.id)))


def test_alerts_on_before_verification_asks_to_verify_first_then_turns_them_on(loaded_runtime):
    bot = make_bot(loaded_runtime)
    asked = bot.say("ALERTS ON")
    assert "Social Security number" in asked and consents(loaded_runtime) == []
    bot.say(MARIA["ssn"])
    answer = bot.send(MARIA["pin"]).replies[-1].text
    assert "Alerts are on for this chat" in answer and "a payment is sent to you" in answer
    (consent,) = consents(loaded_runtime)
    assert consent.person_id == MARIA["id"] and consent.channel == "sms" and consent.recipient == PHONE
    assert consent.locale == "en" and consent.given_at == START and consent.withdrawn_at is None
    assert consent.words_shown == answer  # the exact words shown
    assert "Msg & data rates may apply." in consent.words_shown


def test_alerts_shows_the_setting_and_how_to_change_it(loaded_runtime):
    bot = make_bot(loaded_runtime)
    bot.verify(JAMES)
    off = bot.send("ALERTS")
    assert "Alerts are off for this chat. Send ALERTS ON" in off.replies[0].text
    assert "when your payment is received. You will also get one 3 days before a payment is due" in off.replies[0].text
    assert [c.word for c in off.replies[0].choices] == ["ALERTS ON", "MENU"]
    bot.say("alerts on")
    on = bot.send("Alerts")
    assert "Alerts are on for this chat" in on.replies[0].text and "ALERTS OFF" in on.replies[0].text
    assert [c.word for c in on.replies[0].choices] == ["ALERTS OFF", "MENU"]
    again = bot.say("ALERTS ON")
    assert "already on" in again and len(consents(loaded_runtime)) == 1


def test_alerts_off_withdraws_and_keeps_the_record(loaded_runtime):
    bot = make_bot(loaded_runtime)
    bot.verify(MARIA)
    bot.say("ALERTS ON")
    bot.clock.advance(minutes=5)
    answer = bot.say("ALERTS OFF")
    assert "Alerts are off for this chat" in answer
    (consent,) = consents(loaded_runtime)
    assert consent.withdrawn_reason == "off" and consent.withdrawn_at == START + dt.timedelta(minutes=5)
    assert "Alerts were not on" in bot.say("ALERTS OFF")
    bot.say("ALERTS ON")
    assert [c.withdrawn_at is None for c in consents(loaded_runtime)] == [False, True]


def test_alerts_off_needs_no_pin_since_an_alert_says_how_to_stop(loaded_runtime):
    bot = make_bot(loaded_runtime)
    bot.verify(MARIA)
    bot.say("ALERTS ON")
    bot.say("LOGOUT")
    answer = bot.say("ALERTS OFF")
    assert "Alerts are off for this chat" in answer and "Social Security" not in answer
    assert consents(loaded_runtime)[0].withdrawn_reason == "off"


def test_sms_stop_withdraws_consent(loaded_runtime):
    bot = make_bot(loaded_runtime)
    bot.verify(MARIA)
    bot.say("ALERTS ON")
    assert "unsubscribed" in bot.say("STOP")
    (consent,) = consents(loaded_runtime)
    assert consent.withdrawn_reason == "stop" and consent.withdrawn_at is not None
    # START lets texts through again, but alerts stay off until the parent asks again.
    bot.say("START")
    assert consents(loaded_runtime)[0].withdrawn_at is not None


def test_consent_is_per_chat(loaded_runtime):
    bot = make_bot(loaded_runtime)
    bot.verify(MARIA)
    bot.say("ALERTS ON")
    bot.verify(MARIA, sender="42", channel=Channel.TELEGRAM)
    assert "Alerts are off for this chat" in bot.say("ALERTS", sender="42", channel=Channel.TELEGRAM)
    bot.say("ALERTS OFF", sender="42", channel=Channel.TELEGRAM)
    (sms,) = consents(loaded_runtime)
    assert sms.channel == "sms" and sms.withdrawn_at is None  # OFF on Telegram left the SMS chat alone


def test_french_words_and_french_consent(loaded_runtime):
    bot = make_bot(loaded_runtime)
    bot.verify(AMINATA)
    answer = bot.say("ALERTES OUI")
    assert answer.startswith("Les alertes sont activées pour cette conversation.")
    assert "un versement vous est envoyé ou que votre paiement est enregistré" in answer  # both roles
    (consent,) = consents(loaded_runtime)
    assert consent.locale == "fr" and consent.words_shown == answer
    assert "désactivées" in bot.say("alertes non")


def test_telegram_offers_alerts_as_a_command_and_buttons(loaded_runtime):
    bot = make_bot(loaded_runtime)
    bot.verify(MARIA, sender="42", channel=Channel.TELEGRAM)
    outcome = bot.send("/alerts_on", sender="42", channel=Channel.TELEGRAM)
    assert "Alerts are on" in outcome.replies[0].text
    assert "Msg & data rates" not in outcome.replies[0].text  # SMS only
    assert [c.word for c in outcome.replies[0].choices] == ["ALERTS OFF", "MENU"]
    assert consents(loaded_runtime)[0].channel == "telegram"
