"""Answers from the office: the notice that one arrived (which names the reference only) and
MESSAGES, which shows the answers themselves in a verified chat and marks them read."""

from __future__ import annotations

from dialogs.context import DialogContext, Words
from dialogs.menu import choice
from dialogs.vocabulary import Intent

ANSWERS_SHOWN = 3  # newest first; each answer can be long, so a few at a time
AUDIT_KIND = "office_answers"


def notice_text(t: Words, reference: str) -> str:
    """What the chat the message came from is told: the reference, never the answer's text nor
    any account detail (whoever holds the phone may not be the parent)."""
    return t.gettext("Your child support office answered your message {reference}. Send MESSAGES to read it.").format(
        reference=reference
    )


def show(ctx: DialogContext) -> None:
    """MESSAGES: the newest answers, each with its reference and date; shown ones are read."""
    t = ctx.t
    _ = t.gettext
    person_id = ctx.conversation.person_id or ""
    answers = ctx.services.office_answers(person_id, ANSWERS_SHOWN)
    if not answers:
        ctx.result.say(
            _("There is no answer from your office yet. Send OFFICE to write to your office."),
            [choice(ctx, Intent.OFFICE)],
        )
        return
    ctx.services.record_view(person_id, ctx.chat, AUDIT_KIND)
    for answer in answers:
        heading = _("Answer to your message {reference} ({date}):").format(
            reference=answer.reference, date=t.date(answer.answered_at.date())
        )
        # The office's words, shown as written (as a parent's own words are).
        ctx.result.say(f"{heading}\n{answer.text}", as_typed=True)
    ctx.services.mark_office_answers_read([answer.id for answer in answers])
