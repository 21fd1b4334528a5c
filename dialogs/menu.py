"""The role-aware menu, help, greeting, language switch and the answer to anything unclear."""

from __future__ import annotations

from dialogs.context import DialogContext
from dialogs.ports import CaseView, Role
from dialogs.replies import Choice
from dialogs.text import HELPLINE, N_, TTY
from dialogs.words import Intent

# The word a parent sees for each menu entry, in each language (protocol words, not prose).
KEYWORDS: dict[Intent, dict[str, str]] = {
    Intent.BALANCE: {"en": "BALANCE", "fr": "SOLDE"},
    Intent.PAYMENTS: {"en": "PAYMENTS", "fr": "PAIEMENTS"},
    Intent.DISBURSEMENTS: {"en": "DISBURSEMENTS", "fr": "VERSEMENTS"},
    Intent.NOTICE: {"en": "NOTICE", "fr": "AVIS"},
    Intent.COUPON: {"en": "COUPON", "fr": "COUPON"},
    Intent.STATEMENT: {"en": "STATEMENT", "fr": "RELEVE"},
    Intent.OFFICE: {"en": "OFFICE", "fr": "BUREAU"},
    Intent.LOGOUT: {"en": "LOGOUT", "fr": "DECONNEXION"},
    Intent.MORE: {"en": "MORE", "fr": "PLUS"},
    Intent.PDF: {"en": "PDF", "fr": "PDF"},
    Intent.SEND: {"en": "SEND", "fr": "ENVOYER"},
    Intent.MENU: {"en": "MENU", "fr": "MENU"},
}

LABELS: dict[Intent, str] = {
    Intent.BALANCE: N_("Balance"),
    Intent.PAYMENTS: N_("Payment history"),
    Intent.DISBURSEMENTS: N_("Payments sent to you (disbursements)"),
    Intent.NOTICE: N_("Monthly notice"),
    Intent.COUPON: N_("Payment coupons"),
    Intent.STATEMENT: N_("Account statements"),
    Intent.OFFICE: N_("Email your local office"),
    Intent.LOGOUT: N_("Sign out"),
    Intent.MORE: N_("More"),
    Intent.PDF: N_("Printable copy (PDF)"),
    Intent.SEND: N_("Send"),
    Intent.MENU: N_("Menu"),
}


def keyword(ctx: DialogContext, intent: Intent) -> str:
    return KEYWORDS[intent].get(ctx.locale, KEYWORDS[intent]["en"])


def choice(ctx: DialogContext, intent: Intent) -> Choice:
    return Choice(label=ctx.t.gettext(LABELS[intent]), word=keyword(ctx, intent))


def menu_intents(cases: list[CaseView]) -> list[Intent]:
    roles = {case.role for case in cases}
    items = [Intent.BALANCE, Intent.PAYMENTS]
    if Role.RECEIVING in roles:
        items += [Intent.DISBURSEMENTS, Intent.NOTICE]
    if Role.PAYING in roles:
        items.append(Intent.COUPON)
    items += [Intent.STATEMENT, Intent.OFFICE, Intent.LOGOUT]
    return items


def show(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    cases = ctx.services.cases(ctx.conversation.person_id or "")
    roles = {case.role for case in cases}
    if roles == {Role.RECEIVING}:
        intro = _("You receive support. What would you like to see?")
    elif roles == {Role.PAYING}:
        intro = _("You pay support. What would you like to see?")
    elif roles:
        intro = _("You receive support on one case and pay on another. What would you like to see?")
    else:
        intro = _("We have no open case for you. You can still write to an office or get help.")
    ctx.result.say(intro, [choice(ctx, intent) for intent in menu_intents(cases)])


def welcome(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.result.say(
        _(
            "Welcome to {program}. Here you can check your payments, balance, statements and"
            " more, and write to your local office."
        ).format(program=ctx.policy.program_name)
    )


def help(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    program = ctx.policy.program_name
    if ctx.is_sms:
        ctx.result.say(
            _(
                "{program}: payments, balance, statements and messages to your office by text."
                " Help: {helpline} (TTY {tty}). Msg & data rates may apply. Text MENU for"
                " options, PIN for a new PIN notice, STOP to opt out."
            ).format(program=program, helpline=HELPLINE, tty=TTY)
        )
        return
    ctx.result.say(
        _(
            "{program}: check your payments, balance, statements and more, and write to your"
            " local office. Help by phone: {helpline} (TTY {tty}). Send MENU for options,"
            " PIN to have your PIN notice mailed again."
        ).format(program=program, helpline=HELPLINE, tty=TTY)
    )
    ctx.result.say(
        _(
            "To use the website instead, create a NY.gov account at {register} and sign in at"
            " {signin}, then verify your SSN and enter your 5-digit account PIN."
        ).format(register=ctx.policy.register_url, signin=ctx.policy.signin_url)
    )


def not_understood(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.result.say(
        _(
            "Sorry, I did not understand. You can send MENU, BALANCE, PAYMENTS, STATEMENT,"
            " OFFICE, PIN or HELP."
        )
    )


def set_language(ctx: DialogContext, intent: Intent) -> None:
    ctx.conversation.chosen_locale = "fr" if intent is Intent.FRENCH else "en"
    _ = ctx.t.gettext  # already the new language
    ctx.result.say(_("OK, I will answer in English."))


def logout(ctx: DialogContext, was_signed_in: bool) -> None:
    _ = ctx.t.gettext
    if was_signed_in:
        ctx.result.say(_("You are signed out. Send MENU to sign in again."))
    else:
        ctx.result.say(_("You are not signed in."))


def opt_out(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.result.say(
        _(
            "You are unsubscribed from {program} and will get no more messages. Text START to"
            " subscribe again."
        ).format(program=ctx.policy.program_name)
    )


def opt_in(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.result.say(
        _(
            "You are subscribed again to {program}. Text HELP for help, STOP to opt out."
        ).format(program=ctx.policy.program_name)
    )


def opt_words_elsewhere(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.result.say(
        _(
            "STOP and START are for text messages. Here you can simply stop writing, or send"
            " LOGOUT to sign out."
        )
    )
