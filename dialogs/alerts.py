"""Alerts a parent asks for (spec/interface.md, "Alerts (opt-in)"): ALERTS shows this chat's
setting, ALERTS ON records consent with the exact words shown, ALERTS OFF withdraws it; and the
alert texts themselves.

An alert names no amount, no case number and no name (a phone can be shared): it says what
happened and when, how to see it (with the PIN) and how to stop. Each text fits one GSM-7 SMS
segment in English and French as written, with no letter GSM-7 lacks (tests/alerts).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from dialogs.context import DialogContext, Words
from dialogs.menu import choice
from dialogs.ports import Role
from dialogs.replies import Choice
from dialogs.text import N_
from dialogs.vocabulary import ENTRIES, Intent


class AlertKind(StrEnum):
    PAYMENT_SENT = "payment_sent"  # a disbursement to the receiving parent
    PAYMENT_RECEIVED = "payment_received"  # a payment from the paying parent
    COUPON_DUE = "coupon_due"  # a coupon due within 3 days (paying parent)


ALERT_TEXTS = {
    AlertKind.PAYMENT_SENT: N_(
        "{program}: a payment was sent to you on {date}. Send BALANCE to see it (PIN needed)."
        " Send ALERTS OFF to stop alerts."
    ),
    AlertKind.PAYMENT_RECEIVED: N_(
        "{program}: we received your payment of {date}. Send BALANCE to see it (PIN needed)."
        " Send ALERTS OFF to stop alerts."
    ),
    AlertKind.COUPON_DUE: N_(
        "{program}: your next payment is due on {date}. Send COUPON to see your coupon (PIN needed)."
        " Send ALERTS OFF to stop alerts."
    ),
}
# The word each alert points to (a button on Telegram, beside ALERTS OFF).
SEE_IT = {AlertKind.PAYMENT_SENT: Intent.BALANCE, AlertKind.PAYMENT_RECEIVED: Intent.BALANCE,
          AlertKind.COUPON_DUE: Intent.COUPON}
COUPON_DUE_DAYS = 3
AUDIT_KIND = "alert"  # the audit record of an alert sent (bot/outbound/queue.py mark_sent)


def alert_text(t: Words, kind: AlertKind, program: str, day: dt.date) -> str:
    return t.gettext(ALERT_TEXTS[kind]).format(program=program, date=t.day_month(day))


def alert_choices(t: Words, kind: AlertKind) -> list[tuple[str, str]]:
    """(label, word) of the buttons under an alert on Telegram."""
    pairs = []
    for intent in (SEE_IT[kind], Intent.ALERTS_OFF):
        entry = ENTRIES[intent]
        word = entry.keyword(t.locale)
        pairs.append((t.gettext(entry.label) if entry.label else word, word))
    return pairs


# --- the dialog --------------------------------------------------------------------------


def _what_you_get(ctx: DialogContext) -> str:
    _ = ctx.t.gettext
    roles = {case.role for case in ctx.services.cases(ctx.conversation.person_id or "")}
    if roles == {Role.RECEIVING}:
        return _("You will get a short message when a payment is sent to you.")
    if roles == {Role.PAYING}:
        return _("You will get a short message when your payment is received. You will also get one 3 days"
                 " before a payment is due.")
    if roles:
        return _(
            "You will get a short message when a payment is sent to you or your payment is received. You"
            " will also get one 3 days before a payment is due."
        )
    return _("You will get a short message when there is news about a payment.")


def _choices(ctx: DialogContext, on: bool) -> list[Choice]:
    return [choice(ctx, Intent.ALERTS_OFF if on else Intent.ALERTS_ON), choice(ctx, Intent.MENU)]


def show(ctx: DialogContext) -> None:
    """ALERTS (verified chat): whether alerts are on here, and how to change it."""
    _ = ctx.t.gettext
    on = ctx.alerts.alerts_on(ctx.conversation.person_id or "", ctx.chat)
    if on:
        text = " ".join((_("Alerts are on for this chat."), _what_you_get(ctx), _("Send ALERTS OFF to stop them.")))
    else:
        text = " ".join((_("Alerts are off for this chat."), _("Send ALERTS ON to turn them on."), _what_you_get(ctx)))
    ctx.result.say(text, _choices(ctx, on))


def turn_on(ctx: DialogContext) -> None:
    """ALERTS ON (verified chat): record consent with the exact words of this reply."""
    _ = ctx.t.gettext
    person_id = ctx.conversation.person_id or ""
    if ctx.alerts.alerts_on(person_id, ctx.chat):
        text = " ".join((_("Alerts are already on for this chat."), _what_you_get(ctx),
                         _("Send ALERTS OFF to stop them.")))
        ctx.result.say(text, _choices(ctx, True))
        return
    parts = [_("Alerts are on for this chat."), _what_you_get(ctx),
             _("An alert never shows an amount, a case number or a name."), _("Send ALERTS OFF to stop them.")]
    if ctx.policy.channel.sms_compliance:
        parts.append(_("Msg & data rates may apply."))
    text = " ".join(parts)
    ctx.alerts.turn_alerts_on(person_id, ctx.chat, ctx.locale, text)
    ctx.result.say(text, _choices(ctx, True))


def turn_off(ctx: DialogContext) -> None:
    """ALERTS OFF, verified or not: stopping must be as easy as the alert says, and it reveals
    nothing. Withdraws every consent in force for this chat."""
    _ = ctx.t.gettext
    if ctx.alerts.turn_alerts_off(ctx.chat, "off"):
        text = _("Alerts are off for this chat. Send ALERTS ON to turn them on again.")
    else:
        text = _("Alerts were not on for this chat. Send ALERTS ON to turn them on.")
    ctx.result.say(text, [choice(ctx, Intent.ALERTS_ON)] if ctx.verified else [])

