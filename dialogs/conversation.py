"""One dialog step: the words of the interface first, then what the current state expects."""

from __future__ import annotations

from collections.abc import Callable

from dialogs import answers, menu, office, pin_request, verification
from dialogs.context import DialogContext, State
from dialogs.words import Intent, language_of_word, parse_intent

# Everything about an account needs a verified chat (spec/interface.md, Verification).
ACCOUNT_INTENTS = {
    Intent.MENU, Intent.BALANCE, Intent.PAYMENTS, Intent.DISBURSEMENTS, Intent.COUPON,
    Intent.STATEMENT, Intent.NOTICE, Intent.OFFICE, Intent.SEND, Intent.MORE, Intent.PDF,
    Intent.GREETING,
}
# States that belong to a verified session: dropped when the session lapses.
_ACCOUNT_STATES = {State.OFFICE_CHOOSE_CASE, State.OFFICE_COMPOSE, State.OFFICE_CONFIRM}


def step(ctx: DialogContext, text: str) -> None:
    conv = ctx.conversation
    _apply_session_limits(ctx)
    intent = parse_intent(text)
    if intent is not None and (word_language := language_of_word(text)):
        conv.hint_locale = word_language  # the parent's own word beats a guess
    text = _numbered_choice(ctx, text, intent)
    if text is not None and intent is None:
        intent = parse_intent(text)
    text = text or ""

    # SMS opt-out words outrank everything (carrier rules), even a message being typed.
    if ctx.is_sms and _sms_compliance(ctx, intent):
        return
    if conv.state is State.OFFICE_COMPOSE and intent is not Intent.MENU:
        office.take_draft(ctx, text)
        return
    if _resume_office_message(ctx, text, intent):
        return
    if intent in (Intent.OPT_OUT, Intent.OPT_IN) and _sms_compliance(ctx, intent):
        return
    if intent is not None:
        handle(ctx, intent)
        return

    expecting = _STATE_INPUT.get(conv.state)
    if expecting is not None:
        expecting(ctx, text)
        return
    if _looks_secret(text):
        ctx.result.inbound_was_secret = True
    menu.not_understood(ctx)


def _sms_compliance(ctx: DialogContext, intent: Intent | None) -> bool:
    """STOP/START handling; True when the step is over."""
    if not ctx.is_sms:
        if intent is Intent.OPT_IN:  # Telegram: START is a greeting like /start
            handle(ctx, Intent.GREETING)
        else:
            menu.opt_words_elsewhere(ctx)
        return True
    sender = ctx.chat.sender
    if intent is Intent.OPT_OUT:
        if not ctx.services.opted_out(sender):
            ctx.services.set_opted_out(sender, True)
            ctx.go(State.IDLE)
            menu.opt_out(ctx)
        else:
            ctx.result.silent = True
        return True
    if intent is Intent.OPT_IN:
        ctx.services.set_opted_out(sender, False)
        menu.opt_in(ctx)
        return True
    if ctx.services.opted_out(sender):
        ctx.result.silent = True
        return True
    return False


def handle(ctx: DialogContext, intent: Intent) -> None:
    conv = ctx.conversation
    if intent is Intent.HELP:
        ctx.go(State.IDLE)
        menu.help(ctx)
        return
    if intent in (Intent.ENGLISH, Intent.FRENCH):
        ctx.go(State.IDLE)
        menu.set_language(ctx, intent)
        return
    if intent is Intent.PIN:
        pin_request.start(ctx)
        return
    if intent is Intent.LOGOUT:
        # Answer in the language spoken so far, and keep it as the chat's hint afterwards.
        menu.logout(ctx, was_signed_in=conv.person_id is not None)
        conv.hint_locale = ctx.locale
        verification.end_session(ctx)
        ctx.go(State.IDLE)
        return
    draft = dict(conv.data) if conv.state is State.OFFICE_CONFIRM else None
    ctx.go(State.IDLE)  # a word from the table abandons the step in progress
    if intent is Intent.GREETING:
        menu.welcome(ctx)
        intent = Intent.MENU
    if not ctx.verified:
        if intent is Intent.SEND:
            draft = None
        verification.start(ctx, intent)
        return
    answer(ctx, intent, draft)


def answer(ctx: DialogContext, intent: Intent, draft: dict | None = None) -> None:
    """Answer an account request for a verified chat."""
    if intent is Intent.SEND:
        office.send(ctx, draft)
        return
    _ANSWERS.get(intent, menu.show)(ctx)


_ANSWERS: dict[Intent, Callable[[DialogContext], None]] = {
    Intent.MENU: menu.show,
    Intent.GREETING: menu.show,
    Intent.BALANCE: answers.balance,
    Intent.PAYMENTS: answers.payments,
    Intent.DISBURSEMENTS: answers.disbursements,
    Intent.COUPON: answers.coupon,
    Intent.STATEMENT: answers.statement,
    Intent.NOTICE: answers.notice,
    Intent.OFFICE: office.start,
    Intent.MORE: answers.more,
    Intent.PDF: answers.payment_history_pdf,
}


def _take_pin(ctx: DialogContext, text: str) -> None:
    verification.take_pin(ctx, text, answer)


_STATE_INPUT = {
    State.AWAIT_SSN: verification.take_ssn,
    State.AWAIT_PIN: _take_pin,
    State.OFFICE_CHOOSE_CASE: office.choose_case,
    State.OFFICE_CONFIRM: office.confirm_input,
    State.PIN_REQUEST_SSN: pin_request.take_ssn,
    State.PIN_REQUEST_DOB: pin_request.take_birth_date,
    State.PIN_REQUEST_ZIP: pin_request.take_zip,
}


def _numbered_choice(ctx: DialogContext, text: str, intent: Intent | None) -> str | None:
    """A bare number picks from the choices offered in the last reply (menu, MORE, ...)."""
    stripped = text.strip().rstrip(".)")
    offered = ctx.conversation.data.get("offered")
    if not offered and ctx.verified and ctx.conversation.state is State.IDLE and _is_number(stripped):
        # The menu's numbers work even when the menu is not on screen.
        offered = [menu.keyword(ctx, i) for i in menu.menu_intents(ctx.services.cases(ctx.conversation.person_id or ""))]
    if intent is not None or not _is_number(stripped) or not offered:
        return text
    if ctx.conversation.state in _STATE_INPUT and ctx.conversation.state is not State.OFFICE_CONFIRM:
        return text  # the state expects this number itself (a case number, a PIN, ...)
    index = int(stripped)
    if 1 <= index <= len(offered):
        return str(offered[index - 1])
    return text


def _apply_session_limits(ctx: DialogContext) -> None:
    """12 hours after verification: verify again in full; idle too long: the PIN again."""
    conv = ctx.conversation
    if conv.person_id is None:
        return
    if conv.verified_at is None or ctx.now - conv.verified_at > ctx.policy.session_absolute:
        verification.end_session(ctx)
        if conv.state is State.AWAIT_PIN:  # the PIN was being asked again: now the SSN is
            ctx.go(State.AWAIT_SSN, pending=conv.data.get("pending", str(Intent.MENU)))
    elif conv.last_activity_at is not None and ctx.now - conv.last_activity_at > ctx.policy.session_idle:
        conv.data["needs_pin"] = True
        if conv.state in _ACCOUNT_STATES:
            # What the parent was writing to the office waits for the PIN, not the bin.
            kept = {key: conv.data.get(key) for key in ("case", "role", "office", "draft")}
            conv.data["office_resume"] = {**kept, "state": str(conv.state)}
    else:
        return
    if conv.state in _ACCOUNT_STATES:
        ctx.go(State.IDLE)


def _resume_office_message(ctx: DialogContext, text: str, intent: Intent | None) -> bool:
    """After an idle lapse in the middle of an office message: the next plain text (or OFFICE,
    SEND) asks the PIN and then carries on; any other word abandons the message."""
    conv = ctx.conversation
    resume = conv.data.get("office_resume")
    if not resume or ctx.verified or conv.state is not State.IDLE:
        return False
    if intent not in (None, Intent.OFFICE, Intent.SEND):
        conv.data.pop("office_resume", None)
        return False
    if intent is None and resume.get("state") == str(State.OFFICE_COMPOSE):
        resume["draft"] = text  # checked (length, no SSN) when the message is resumed
    verification.start(ctx, Intent.OFFICE)
    return True


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _looks_secret(text: str) -> bool:
    digits = "".join(ch for ch in text if ch.isdigit())
    return len(digits) in (5, 9) and len(digits) >= len(text.strip()) - 2


def record_offered_choices(ctx: DialogContext) -> None:
    words = [c.word for reply in ctx.result.replies for c in reply.choices]
    if words:
        ctx.conversation.data["offered"] = words
    else:
        ctx.conversation.data.pop("offered", None)
