"""A message to the local child support office: pick the case, type, confirm, queue.

While the parent types, only MENU abandons the message (SMS STOP aside): any other text is
the message (dialogs.conversation.STATES).
"""

from __future__ import annotations

from typing import Any

from dialogs.answers import mask
from dialogs.context import DialogContext, State
from dialogs.menu import choice
from dialogs.ports import CaseView, Role
from dialogs.replies import Choice
from dialogs.shapes import holds_ssn, is_number, pin_candidates
from dialogs.text import N_
from dialogs.vocabulary import Intent, parse_intent

MAX_MESSAGE_LENGTH = 1500
RECENT_MESSAGES = 3

STATUS_LABELS = {
    "queued": N_("waiting to be sent"),
    "sending": N_("waiting to be sent"),
    "mailed": N_("sent to the office"),
    "answered": N_("answered: send MESSAGES to read it"),
    "read": N_("answered"),
    "failed": N_("delayed, staff are looking into it"),
}


def start(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext
    person_id = ctx.conversation.person_id or ""
    resume = ctx.conversation.data.pop("office_resume", None)
    if resume and _resume(ctx, resume):
        return
    recent = ctx.services.recent_office_messages(person_id, RECENT_MESSAGES)
    if recent:
        ctx.services.record_view(person_id, ctx.chat, "office_messages")
        lines = [_("Your recent messages:")]
        for message in recent:
            lines.append(
                _("{reference} ({date}): {status}").format(
                    reference=message.reference,
                    date=t.date(message.created_at.date()),
                    status=_(STATUS_LABELS.get(message.status, message.status)),
                )
            )
        ctx.result.say("\n".join(lines))
    cases = ctx.services.cases(person_id)
    if not cases:
        ctx.result.say(_("We have no open case for you, so there is no office to write to."))
        return
    if len(cases) == 1:
        _compose(ctx, cases[0])
        return
    lines = [_("Which case is your message about?")]
    choices = []
    for number, case in enumerate(cases, start=1):
        label = _("Case {case}, {office}").format(case=mask(case.case_number), office=case.office_name)
        lines.append(f"{number}: {label}")
        choices.append(Choice(label=label, word=str(number)))
    ctx.go(State.OFFICE_CHOOSE_CASE, cases=[case.case_number for case in cases])
    ctx.result.say("\n".join(lines), choices)


def _resume(ctx: DialogContext, resume: dict[str, Any]) -> bool:
    """Carry on with a message interrupted by the PIN check; False when its case is gone."""
    cases = {case.case_number: case for case in ctx.services.cases(ctx.conversation.person_id or "")}
    case = cases.get(str(resume.get("case")))
    if case is None:
        return False
    if resume.get("draft"):  # straight to the preview of what was typed
        ctx.go(State.OFFICE_COMPOSE, case=case.case_number, role=str(case.role), office=case.office_name)
        take_draft(ctx, str(resume["draft"]))
    else:
        _compose(ctx, case)
    return True


def choose_case(ctx: DialogContext, text: str) -> None:
    _ = ctx.t.gettext
    offered: list[str] = list(ctx.conversation.data.get("cases", []))
    picked = text.strip()
    cases = {case.case_number: case for case in ctx.services.cases(ctx.conversation.person_id or "")}
    if is_number(picked) and 1 <= int(picked) <= len(offered) and offered[int(picked) - 1] in cases:
        _compose(ctx, cases[offered[int(picked) - 1]])
        return
    ctx.result.say(
        _("Please send the number of the case, from 1 to {count}, or MENU to cancel.").format(count=len(offered))
    )


def _compose(ctx: DialogContext, case: CaseView) -> None:
    _ = ctx.t.gettext
    ctx.go(State.OFFICE_COMPOSE, case=case.case_number, role=str(case.role), office=case.office_name)
    ctx.result.say(
        _(
            "Type your message to the {office} about case {case}. Do not include your SSN."
            " Send MENU to cancel."
        ).format(office=case.office_name, case=mask(case.case_number))
    )


def take_draft(ctx: DialogContext, text: str) -> None:
    _ = ctx.t.gettext
    body = text.strip()
    data = ctx.conversation.data
    if parse_intent(body) is Intent.SEND:  # SEND before any message: not the message itself
        ctx.result.say(_("First type your message to the office. Then send SEND."))
        return
    if not body:
        ctx.result.say(_("Your message is empty. Type your message, or send MENU to cancel."))
        return
    if len(body) > MAX_MESSAGE_LENGTH:
        ctx.result.say(
            _("Your message is too long ({length} characters). Please keep it under {limit}.").format(
                length=len(body), limit=MAX_MESSAGE_LENGTH
            )
        )
        return
    if refuse_secrets(ctx, body):
        return
    ctx.go(State.OFFICE_CONFIRM, case=data.get("case"), role=data.get("role"), office=data.get("office"), draft=body)
    preview = body
    limit = ctx.policy.channel.preview_length
    if limit is not None and len(preview) > limit:
        # Cut at a word, and never "....": the cut's own punctuation goes before the dots.
        cut = preview[: limit - 3].rsplit(" ", 1)[0] if " " in preview[: limit - 3] else preview[: limit - 3]
        preview = cut.rstrip(" .,;:!?") + "..."
    # The parent's own words in a reply of their own, shown as typed (accents and all).
    ctx.result.say(_('You wrote: "{text}"').format(text=preview), as_typed=True)
    ctx.result.say(
        _("To send it to the {office}, reply SEND. To cancel, reply MENU.").format(office=data.get("office", "")),
        [choice(ctx, Intent.SEND), choice(ctx, Intent.MENU)],
    )


def holds_secret(ctx: DialogContext, text: str) -> bool:
    """An SSN in any spelling, or the parent's own PIN: never stored, echoed or mailed."""
    if holds_ssn(text):
        return True
    person_id = ctx.conversation.person_id
    return person_id is not None and any(ctx.services.is_own_pin(person_id, pin) for pin in pin_candidates(text))


def refuse_secrets(ctx: DialogContext, body: str) -> bool:
    """Refuse a message holding a secret (True), asking for it again without."""
    if not holds_secret(ctx, body):
        return False
    _ = ctx.t.gettext
    ctx.result.inbound_was_secret = True
    if holds_ssn(body):
        text = _(
            "For your safety, please do not put a Social Security number in a message. Type"
            " your message again without it."
        )
    else:
        text = _("For your safety, please do not put your PIN in a message. Type your message again without it.")
    ctx.result.say(text)
    return True


def confirm_input(ctx: DialogContext, text: str) -> None:
    """Text after the preview: a new version of the message replaces the draft."""
    data = ctx.conversation.data
    ctx.go(State.OFFICE_COMPOSE, case=data.get("case"), role=data.get("role"), office=data.get("office"))
    take_draft(ctx, text)


def send(ctx: DialogContext) -> None:
    """SEND: the message previewed in the step SEND abandoned, if there was one."""
    _ = ctx.t.gettext
    draft = ctx.abandoned
    if not draft or not draft.get("draft") or not draft.get("case"):
        ctx.result.say(_("There is no message waiting to be sent. Send OFFICE to write to your office."))
        return
    reference = ctx.services.queue_office_message(
        ctx.conversation.person_id or "",
        str(draft["case"]),
        Role(str(draft.get("role", Role.RECEIVING))),
        ctx.chat,
        str(draft["draft"]),
    )
    ctx.result.say(
        _(
            "Your message is on its way to the {office}. Your reference is {reference}. Expect"
            " an answer within 2 business days. We will tell you here when it comes; then send"
            " MESSAGES to read it."
        ).format(office=draft.get("office", ""), reference=reference)
    )
