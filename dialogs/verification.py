"""Verification: the SSN, then the 5-digit PIN; the request that started it is answered next.

An unknown SSN and a wrong PIN take the same steps and get the same reply; a locked account
answers the same way whatever PIN is given (the services make that so).
"""

from __future__ import annotations

from collections.abc import Callable

from dialogs.context import DialogContext, State
from dialogs.ports import VerifyStatus
from dialogs.shapes import PIN_SHAPE, normalise_ssn
from dialogs.text import HELPLINE, TTY
from dialogs.vocabulary import Intent


def start(ctx: DialogContext, pending: Intent) -> None:
    _ = ctx.t.gettext
    if ctx.services.chat_throttled(ctx.chat):
        ctx.go(State.IDLE)
        say_throttled(ctx)
        return
    conv = ctx.conversation
    if conv.person_id is not None and conv.data.get("needs_pin"):
        ctx.go(State.AWAIT_PIN, pending=str(pending), reauth=True)
        if conv.data.get("office_resume"):
            ctx.result.say(
                _(
                    "For your security, please send your 5-digit account PIN again. What you"
                    " were writing to your office is kept."
                )
            )
        else:
            ctx.result.say(_("For your security, please send your 5-digit account PIN again."))
        return
    ctx.go(State.AWAIT_SSN, pending=str(pending))
    ctx.result.say(
        _("To keep your account safe, first send your Social Security number (SSN). It has 9 digits.")
    )


def say_throttled(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.result.say(
        _(
            "Too many attempts from this chat. Please try again in an hour, or call"
            " {helpline} (TTY {tty})."
        ).format(helpline=HELPLINE, tty=TTY)
    )


def read_ssn(ctx: DialogContext, text: str) -> str | None:
    """The SSN's keyed token, or None after a hint. The message is a secret either way."""
    ctx.result.inbound_was_secret = True
    digits = normalise_ssn(text)
    if digits is None:
        _ = ctx.t.gettext
        ctx.result.say(_("Please send the 9 digits of your SSN, for example 123-45-6789."))
        return None
    return ctx.services.ssn_token(digits)


def take_ssn(ctx: DialogContext, text: str) -> None:
    _ = ctx.t.gettext
    token = read_ssn(ctx, text)
    if token is None:
        return
    pending = ctx.conversation.data.get("pending", str(Intent.MENU))
    ctx.go(State.AWAIT_PIN, pending=pending, ssn_token=token)
    ctx.result.say(
        _(
            "Thank you. Now send your 5-digit account PIN, from the notice mailed to you."
            " No PIN? Send PIN."
        )
    )


def take_pin(ctx: DialogContext, text: str, answer: Callable[[DialogContext, Intent], None]) -> None:
    """`answer(ctx, intent)` answers the request that started verification."""
    _ = ctx.t.gettext
    ctx.result.inbound_was_secret = True
    pin = text.strip()
    if not PIN_SHAPE.match(pin):
        ctx.result.say(_("Your account PIN has exactly 5 digits. Please send it again."))
        return
    conv = ctx.conversation
    data = conv.data
    pending = Intent(data.get("pending", str(Intent.MENU)))
    if ctx.services.chat_throttled(ctx.chat):
        ctx.go(State.IDLE)
        say_throttled(ctx)
        return
    reauth = bool(data.get("reauth")) and conv.person_id is not None
    if reauth:
        result = ctx.services.verify_pin(ctx.chat, conv.person_id or "", pin)
    else:
        result = ctx.services.verify(ctx.chat, str(data.get("ssn_token", "")), pin)

    if result.status is VerifyStatus.OK and result.person_id is not None:
        if not reauth:
            conv.verified_at = ctx.now
        conv.person_id = result.person_id
        person = ctx.services.person(result.person_id)
        conv.data.pop("needs_pin", None)
        if conv.chosen_locale is None:
            # The language never changes in the middle of a conversation unless the parent
            # changes it (spec, Language): the one spoken so far stays the chat's.
            conv.chosen_locale = ctx.locale
        ctx.go(State.IDLE, person_lang=person.language if person else None)
        ctx.person_language = person.language if person else None
        name = person.first_name if person else ""
        ctx.result.say(_("Thank you, {name}. You are verified.").format(name=name))
        answer(ctx, pending)
        return

    # Every failure: one reply, the same after an unknown SSN, a wrong PIN or a lock.
    end_session(ctx)
    ctx.go(State.AWAIT_SSN, pending=str(pending))
    if result.status is VerifyStatus.THROTTLED:
        say_throttled(ctx)
        return
    ctx.result.say(
        _(
            "We could not verify these details. After repeated failures, access is paused for"
            " 30 minutes. To try again, send your 9-digit SSN. No PIN? Send PIN."
        )
    )


def end_session(ctx: DialogContext) -> None:
    conv = ctx.conversation
    conv.person_id = None
    conv.verified_at = None
    conv.data.pop("needs_pin", None)
    conv.data.pop("person_lang", None)
    conv.data.pop("listing", None)
    conv.data.pop("office_resume", None)
    ctx.person_language = None
