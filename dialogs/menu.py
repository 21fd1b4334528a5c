"""The role-aware menu, help, greeting, language switch and the answer to anything unclear."""

from __future__ import annotations

from dialogs.context import DialogContext
from dialogs.ports import CaseView, Role
from dialogs.replies import Choice, Link
from dialogs.text import HELPLINE, TTY
from dialogs.vocabulary import ENTRIES, Intent


def keyword(ctx: DialogContext, intent: Intent) -> str:
    return ENTRIES[intent].keyword(ctx.locale)


def choice(ctx: DialogContext, intent: Intent) -> Choice:
    label = ENTRIES[intent].label
    return Choice(label=ctx.t.gettext(label) if label else keyword(ctx, intent), word=keyword(ctx, intent))


def menu_intents(cases: list[CaseView]) -> list[Intent]:
    roles = {case.role for case in cases}
    items = [Intent.BALANCE, Intent.PAYMENTS]
    if Role.RECEIVING in roles:
        items += [Intent.DISBURSEMENTS, Intent.NOTICE]
    if Role.PAYING in roles:
        items.append(Intent.COUPON)
    items += [Intent.STATEMENT, Intent.OFFICE, Intent.MESSAGES, Intent.LOGOUT]
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
    if ctx.policy.channel.sms_compliance:  # carriers require the rates notice and STOP
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
    register, signin = ctx.policy.register_url, ctx.policy.signin_url
    ctx.result.say(
        _(
            "You can also use the website. Create a NY.gov account at {register}. Then sign in at"
            " {signin}. Enter your SSN and your 5-digit account PIN."
        ).format(register=register, signin=signin),
        links=(
            Link(register, _("Scan to create a NY.gov account."), "ny-gov-registration.png"),
            Link(signin, _("Scan to sign in with NY.gov and link your child support account."), "ny-gov-sign-in.png"),
        ),
    )


def not_understood(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.result.say(
        _(
            "Sorry, I did not understand. You can send MENU, BALANCE, PAYMENTS, STATEMENT,"
            " OFFICE, PIN or HELP."
        )
    )


def number_out_of_range(ctx: DialogContext, count: int) -> None:
    _ = ctx.t.gettext
    ctx.result.say(_("Please send a number from 1 to {count}, or a word such as MENU.").format(count=count))


def set_language(ctx: DialogContext, locale: str) -> None:
    ctx.conversation.chosen_locale = locale
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
