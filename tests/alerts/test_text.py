"""Alert texts: no amount, case number or name; what happened and when, how to see it and how
to stop; GSM-7 only as written (no folding) and one SMS segment, in English and French, with
the longest date of any day; Telegram gets the same text with buttons."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.channels.sms.gsm7 import GSM7_BASIC, SINGLE_GSM7, segments
from bot.config import load_settings
from bot.i18n import translator
from dialogs.alerts import AlertKind, alert_choices, alert_text

PROGRAM = load_settings(CSBOT_SECRET_KEY="x" * 32).program_name  # the default program name
EVERY_DAY = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(366)]


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_alert_is_gsm7_as_written_and_one_segment_on_any_day(kind, locale):
    t = translator(locale)
    longest = max((alert_text(t, kind, PROGRAM, day) for day in EVERY_DAY), key=len)
    outside = {ch for day in EVERY_DAY for ch in alert_text(t, kind, PROGRAM, day) if ch not in GSM7_BASIC}
    assert outside == set(), f"letters GSM-7 lacks: {outside}"
    assert len(longest) <= SINGLE_GSM7 and segments(longest) == 1, longest


@pytest.mark.parametrize("locale, expected", [
    ("en", "NYS Child Support: a payment was sent to you on Nov 28. Send BALANCE to see it (PIN needed)."
           " Send ALERTS OFF to stop alerts."),
    ("fr", "NYS Child Support : le 28 nov., un versement vous a été envoyé. Envoyez SOLDE pour le voir"
           " (code PIN requis). Envoyez ALERTES NON pour ne plus en recevoir."),
])
def test_the_spec_example_in_both_languages(locale, expected):
    assert alert_text(translator(locale), AlertKind.PAYMENT_SENT, PROGRAM, dt.date(2026, 11, 28)) == expected


def test_august_is_written_without_the_circumflex_gsm7_lacks():
    assert translator("fr").day_month(dt.date(2026, 8, 3)) == "3 aout"
    assert translator("en").day_month(dt.date(2026, 8, 3)) == "Aug 3"


@pytest.mark.parametrize("kind", list(AlertKind))
def test_an_alert_names_no_amount_and_says_how_to_see_it_and_how_to_stop(kind):
    for locale, see, stop in (("en", ("BALANCE", "COUPON"), "ALERTS OFF"), ("fr", ("SOLDE", "COUPON"), "ALERTES NON")):
        text = alert_text(translator(locale), kind, PROGRAM, dt.date(2026, 12, 1))
        assert "$" not in text and "CS1" not in text and not any(ch.isdigit() for ch in text.replace("1", ""))
        assert any(word in text for word in see) and stop in text and "PIN" in text


@pytest.mark.parametrize("locale, words", [
    ("en", {AlertKind.PAYMENT_SENT: ["BALANCE", "ALERTS OFF"], AlertKind.COUPON_DUE: ["COUPON", "ALERTS OFF"]}),
    ("fr", {AlertKind.PAYMENT_SENT: ["SOLDE", "ALERTES NON"], AlertKind.COUPON_DUE: ["COUPON", "ALERTES NON"]}),
])
def test_telegram_buttons_send_the_words_back(locale, words):
    for kind, expected in words.items():
        assert [word for _label, word in alert_choices(translator(locale), kind)] == expected
