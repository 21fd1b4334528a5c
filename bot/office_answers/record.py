"""Recording an office's answer, in the caller's transaction: the answer row, the message's
status (answered), and ONE notice to the chat the message came from.

The notice names the reference only: never the answer's text, nor any account detail (the
phone may be in someone else's hands); the parent reads the answer with MESSAGES after
verifying (dialogs/office_answers.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import translator
from bot.outbound.messages import Kind, enqueue
from bot.outbound.sms import enqueue_sms
from bot.outbox.queue import ANSWERED
from bot.store.models import Conversation, OfficeAnswer, OfficeMessage, Person, SmsOptOut
from dialogs.context import reply_locale
from dialogs.office_answers import notice_text
from dialogs.vocabulary import ENTRIES, Intent

log = logging.getLogger("csbot.office_answers")

MAX_ANSWER_LENGTH = 4000  # characters: an answer is read in a chat, not a letter
REFERENCE = re.compile(r"\bOM-[A-Z0-9]{8}\b")
NOTIFIED_CHANNELS = ("sms", "telegram")


class AnswerProblem(ValueError):
    """Why an answer cannot be recorded (empty, too long, unknown reference)."""


@dataclass(frozen=True)
class Recorded:
    reference: str
    answer_id: int
    notice: str  # "sms", "telegram", or why no notice was queued


def find_message(session: Session, reference: str) -> OfficeMessage | None:
    return session.scalar(select(OfficeMessage).where(OfficeMessage.reference == reference.strip().upper()))


def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise AnswerProblem("the answer is empty")
    if len(text) > MAX_ANSWER_LENGTH:
        raise AnswerProblem(f"the answer is too long ({len(text)} characters; at most {MAX_ANSWER_LENGTH})")
    return text


def record_answer(
    session: Session,
    message: OfficeMessage,
    *,
    text: str,
    source: str,
    author: str,
    now: dt.datetime,
    sms_encoding: str,
    mail_message_id: str | None = None,
) -> Recorded:
    """Record the answer and queue the notice (the caller commits). A message not mailed yet
    (queued, failed) is answered all the same: staff saw it; it is then not mailed."""
    answer = OfficeAnswer(
        message_id=message.id, body=check_text(text), source=source, author=author[:254],
        mail_message_id=mail_message_id, received_at=now, read_at=None,
    )
    session.add(answer)
    message.status = ANSWERED
    message.claimed_until = None
    session.flush()
    return Recorded(message.reference, answer.id, _notify(session, message, now, sms_encoding))


def _notify(session: Session, message: OfficeMessage, now: dt.datetime, sms_encoding: str) -> str:
    if message.channel not in NOTIFIED_CHANNELS:
        return f"no notice: {message.channel} chats cannot be written to first"
    if message.channel == "sms" and session.get(SmsOptOut, message.sender) is not None:
        return "no notice: the number opted out of text messages (STOP)"
    locale = chat_locale(session, message)
    t = translator(locale)
    text = notice_text(t, message.reference)
    if message.channel == "sms":
        enqueue_sms(session, kind=Kind.NOTICE, recipient=message.sender, text=text, encoding=sms_encoding, now=now)
        return message.channel
    entry = ENTRIES[Intent.MESSAGES]
    label = t.gettext(entry.label) if entry.label else entry.keyword(locale)
    payload: dict[str, Any] = {
        "text": text, "choices": [[label, entry.keyword(locale)]], "document": None, "links": [], "locale": locale,
    }
    enqueue(session, kind=Kind.NOTICE, channel=message.channel, recipient=message.sender, payload=payload, now=now)
    return message.channel


def chat_locale(session: Session, message: OfficeMessage) -> str:
    """The language of the chat the message came from (the dialogs' rule), with the person's
    own language when the chat is no longer signed in as them."""
    person = session.get(Person, message.person_id)
    person_language = person.language if person is not None else None
    conversation = session.scalar(
        select(Conversation).where(Conversation.channel == message.channel, Conversation.sender == message.sender)
    )
    if conversation is None:
        return reply_locale(None, person_language, None)
    if conversation.person_id == message.person_id:
        person_language = (conversation.data or {}).get("person_lang") or person_language
    return reply_locale(conversation.chosen_locale, person_language, conversation.hint_locale)
