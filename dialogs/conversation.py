"""One dialog step, declared as tables (as python-telegram-bot's ConversationHandler does):

- `STATES`: what each state does with text that is not a word of the interface, and which
  words it lets through;
- `ANSWERS`: what each word does, and whether it needs a verified chat first;
- `step`: the order in which they apply, written once. SMS opt-out beats everything (carrier
  rules), then a message being typed to the office, then the words, then the state's input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from dialogs import alerts, answers, menu, office, office_answers, pin_request, verification
from dialogs.context import DialogContext, State
from dialogs.shapes import holds_ssn, is_number
from dialogs.vocabulary import Intent, language_of_word, parse_intent

Handler = Callable[[DialogContext], None]
TextHandler = Callable[[DialogContext, str], None]


@dataclass(frozen=True)
class StateRule:
    takes: TextHandler | None = None  # what the state does with text that is not a word
    only_menu_abandons: bool = False  # every other text, words included, goes to `takes`
    numbers_are_input: bool = False  # a bare number is for `takes`, not a pick from the choices
    belongs_to_session: bool = False  # dropped when the verified session lapses


@dataclass(frozen=True)
class AnswerRule:
    answer: Handler
    needs_verified_chat: bool = True  # spec/interface.md, Verification
    keeps_step: bool = False  # the word does not abandon the step in progress


def _take_pin(ctx: DialogContext, text: str) -> None:
    verification.take_pin(ctx, text, answer_verified)


STATES: dict[State, StateRule] = {
    State.IDLE: StateRule(),
    State.AWAIT_SSN: StateRule(verification.take_ssn, numbers_are_input=True),
    State.AWAIT_PIN: StateRule(_take_pin, numbers_are_input=True),
    State.OFFICE_CHOOSE_CASE: StateRule(office.choose_case, numbers_are_input=True, belongs_to_session=True),
    State.OFFICE_COMPOSE: StateRule(
        office.take_draft, only_menu_abandons=True, numbers_are_input=True, belongs_to_session=True
    ),
    State.OFFICE_CONFIRM: StateRule(office.confirm_input, belongs_to_session=True),
    State.PIN_REQUEST_SSN: StateRule(pin_request.take_ssn, numbers_are_input=True),
    State.PIN_REQUEST_DOB: StateRule(pin_request.take_birth_date, numbers_are_input=True),
    State.PIN_REQUEST_ZIP: StateRule(pin_request.take_zip, numbers_are_input=True),
}


def _logout(ctx: DialogContext) -> None:
    # Answer in the language spoken so far, and keep it as the chat's hint afterwards.
    conv = ctx.conversation
    menu.logout(ctx, was_signed_in=conv.person_id is not None)
    conv.hint_locale = ctx.locale
    verification.end_session(ctx)
    ctx.go(State.IDLE)


def _greet(ctx: DialogContext) -> None:
    menu.welcome(ctx)
    menu.show(ctx)


ANSWERS: dict[Intent, AnswerRule] = {
    Intent.HELP: AnswerRule(menu.help, needs_verified_chat=False),
    Intent.ENGLISH: AnswerRule(partial(menu.set_language, locale="en"), needs_verified_chat=False),
    Intent.FRENCH: AnswerRule(partial(menu.set_language, locale="fr"), needs_verified_chat=False),
    Intent.PIN: AnswerRule(pin_request.start, needs_verified_chat=False),
    Intent.LOGOUT: AnswerRule(_logout, needs_verified_chat=False, keeps_step=True),
    Intent.GREETING: AnswerRule(_greet),
    Intent.MENU: AnswerRule(menu.show),
    Intent.BALANCE: AnswerRule(answers.balance),
    Intent.PAYMENTS: AnswerRule(answers.payments),
    Intent.DISBURSEMENTS: AnswerRule(answers.disbursements),
    Intent.COUPON: AnswerRule(answers.coupon),
    Intent.STATEMENT: AnswerRule(answers.statement),
    Intent.NOTICE: AnswerRule(answers.notice),
    Intent.OFFICE: AnswerRule(office.start),
    Intent.SEND: AnswerRule(office.send),
    Intent.MESSAGES: AnswerRule(office_answers.show),
    Intent.MORE: AnswerRule(answers.more),
    Intent.PDF: AnswerRule(answers.payment_history_pdf),
    Intent.ALERTS: AnswerRule(alerts.show),
    Intent.ALERTS_ON: AnswerRule(alerts.turn_on),
    # Stopping alerts needs no PIN: the alert says how to stop, and stopping reveals nothing.
    Intent.ALERTS_OFF: AnswerRule(alerts.turn_off, needs_verified_chat=False),
    # Where there is no carrier opt-out (Telegram), STOP is explained and changes nothing.
    Intent.OPT_OUT: AnswerRule(menu.opt_words_elsewhere, needs_verified_chat=False, keeps_step=True),
}


def step(ctx: DialogContext, text: str) -> None:
    _apply_session_limits(ctx)
    if holds_ssn(text):
        ctx.result.inbound_was_secret = True  # Telegram deletes it from the chat, whatever the step
    intent = parse_intent(text)
    if intent is not None and (word_language := language_of_word(text)):
        ctx.conversation.chosen_locale = word_language  # writing SOLDE is choosing French
    if intent is None:
        text = _numbered_choice(ctx, text)
        intent = parse_intent(text)
    state = STATES[ctx.conversation.state]

    if ctx.policy.channel.sms_compliance and _carrier_opt_words(ctx, intent):
        return
    if state.only_menu_abandons and intent is not Intent.MENU and state.takes is not None:
        state.takes(ctx, text)
        return
    if _resume_office_message(ctx, text, intent):
        return
    if intent is Intent.OPT_IN:  # no carrier opt-in here: START greets, like Telegram's /start
        intent = Intent.GREETING
    if intent is not None:
        handle(ctx, intent)
        return
    if state.takes is not None:
        state.takes(ctx, text)
        return
    if _looks_secret(text):
        ctx.result.inbound_was_secret = True
    if is_number(text.strip().rstrip(".)")) and (offered := _choices_offered(ctx)):
        menu.number_out_of_range(ctx, offered)
        return
    menu.not_understood(ctx)


def handle(ctx: DialogContext, intent: Intent) -> None:
    """A word of the interface: it abandons the step in progress (keeping a previewed office
    message for SEND), then asks for verification first when it needs a verified chat."""
    rule = ANSWERS[intent]  # OPT_IN never gets here: it is START on SMS, a greeting elsewhere
    if not rule.keeps_step:
        ctx.abandoned = dict(ctx.conversation.data) if ctx.conversation.state is State.OFFICE_CONFIRM else {}
        ctx.go(State.IDLE)
    if rule.needs_verified_chat and not ctx.verified:
        if intent is Intent.GREETING:
            menu.welcome(ctx)
            intent = Intent.MENU
        verification.start(ctx, intent)
        return
    rule.answer(ctx)


def answer_verified(ctx: DialogContext, intent: Intent) -> None:
    """Answer the request that started verification, now that the chat is verified."""
    ANSWERS[intent].answer(ctx)


def _carrier_opt_words(ctx: DialogContext, intent: Intent | None) -> bool:
    """SMS: STOP and START, and silence after STOP (carrier rules outrank every step, even a
    message being typed); True when the step is over."""
    sender = ctx.chat.sender
    if intent is Intent.OPT_OUT:
        if not ctx.services.opted_out(sender):
            ctx.services.set_opted_out(sender, True)
            ctx.alerts.turn_alerts_off(ctx.chat, "stop")  # STOP withdraws consent to alerts too
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


def _choices_offered(ctx: DialogContext) -> int:
    """How many numbered choices a bare number could pick from now."""
    conv = ctx.conversation
    offered = conv.data.get("offered")
    if not offered and ctx.verified and conv.state is State.IDLE:
        return len(menu.menu_intents(ctx.services.cases(conv.person_id or "")))
    return len(offered or [])


def _numbered_choice(ctx: DialogContext, text: str) -> str:
    """A bare number picks from the choices offered in the last reply (menu, MORE, ...)."""
    stripped = text.strip().rstrip(".)")
    conv = ctx.conversation
    if not is_number(stripped) or STATES[conv.state].numbers_are_input:
        return text  # the state expects this number itself (a case number, a PIN, ...)
    offered = conv.data.get("offered")
    if not offered and ctx.verified and conv.state is State.IDLE:
        # The menu's numbers work even when the menu is not on screen.
        offered = [menu.keyword(ctx, i) for i in menu.menu_intents(ctx.services.cases(conv.person_id or ""))]
    index = int(stripped)
    if offered and 1 <= index <= len(offered):
        return str(offered[index - 1])
    return text


def _apply_session_limits(ctx: DialogContext) -> None:
    """12 hours after verification: verify again in full; idle too long: the PIN again."""
    conv = ctx.conversation
    if conv.person_id is None:
        return
    in_session_state = STATES[conv.state].belongs_to_session
    if conv.verified_at is None or ctx.now - conv.verified_at > ctx.policy.session_absolute:
        verification.end_session(ctx)
        if conv.state is State.AWAIT_PIN:  # the PIN was being asked again: now the SSN is
            ctx.go(State.AWAIT_SSN, pending=conv.data.get("pending", str(Intent.MENU)))
    elif conv.last_activity_at is not None and ctx.now - conv.last_activity_at > ctx.policy.session_idle:
        conv.data["needs_pin"] = True
        if in_session_state:
            # What the parent was writing to the office waits for the PIN, not the bin.
            kept = {key: conv.data.get(key) for key in ("case", "role", "office", "draft")}
            conv.data["office_resume"] = {**kept, "state": str(conv.state)}
    else:
        return
    if in_session_state:
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
        if office.holds_secret(ctx, text):
            ctx.result.inbound_was_secret = True  # not kept: the parent types it again after the PIN
            resume.pop("draft", None)
        else:
            resume["draft"] = text  # its length is checked when the message is resumed
    verification.start(ctx, Intent.OFFICE)
    return True


def _looks_secret(text: str) -> bool:
    digits = "".join(ch for ch in text if ch.isdigit())
    return len(digits) in (5, 9) and len(digits) >= len(text.strip()) - 2


def record_offered_choices(ctx: DialogContext) -> None:
    words = [c.word for reply in ctx.result.replies for c in reply.choices]
    if words:
        ctx.conversation.data["offered"] = words
    else:
        ctx.conversation.data.pop("offered", None)
