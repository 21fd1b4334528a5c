"""The conversation engine: one inbound message in, channel-neutral replies out.

Per message: record the delivery id (a repeat is acknowledged and not acted on), load and
lock the conversation row (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE is already
exclusive), run one dialog step, save, commit once. Nothing lives in process memory between
messages, so any worker can take the next one.
"""

from __future__ import annotations

import datetime as dt
import time
import unicodedata
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.conversation.turn import ABILITIES, Channel, InboundMessage, Outcome
from bot.i18n import normalise_locale, translator
from bot.runtime import Runtime
from bot.services.accounts import StoreAccountServices
from bot.services.alerts import StoreAlertConsent
from bot.store.dialect import READ_ONLY, insert_ignoring_conflict
from bot.store.models import Conversation, HandledDelivery
from dialogs.context import ConversationState, DialogContext, Policy, State, reply_locale
from dialogs.conversation import record_offered_choices, step
from dialogs.ports import ChatRef

# The conversation row is read and written on every message, as plain Core statements built
# once: the ORM's object loading and unit-of-work flush cost more than SQLite takes to run
# them (bench/RESULTS.md).
_CONVERSATIONS = cast(Table, Conversation.__table__)
_LOCKED_CONVERSATION = (
    select(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.channel == bindparam("channel"), _CONVERSATIONS.c.sender == bindparam("sender"))
    .with_for_update()
)
_CONVERSATION_LANGUAGE = select(
    _CONVERSATIONS.c.chosen_locale, _CONVERSATIONS.c.hint_locale, _CONVERSATIONS.c.person_id, _CONVERSATIONS.c.data
).where(_CONVERSATIONS.c.channel == bindparam("channel"), _CONVERSATIONS.c.sender == bindparam("sender"))
_SAVE_CONVERSATION = update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("conversation_id"))

MAX_INBOUND_LENGTH = 4000

# Called inside the step's transaction, before its commit (see ConversationEngine.handle).
Deliver = Callable[[Session, Outcome, dt.datetime], None]


class StepTimedOut(TimeoutError):
    """The step was not committed: its answer could no longer be delivered in time."""


def clean_text(text: str) -> str:
    """Drop control characters (PostgreSQL refuses NUL) and cap the length."""
    kept = "".join(
        ch for ch in text[: MAX_INBOUND_LENGTH * 2] if ch in "\n\t" or unicodedata.category(ch) != "Cc"
    )
    return kept[:MAX_INBOUND_LENGTH]


class ConversationEngine:
    def __init__(self, runtime: Runtime, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._runtime = runtime
        self._clock = clock
        settings = runtime.settings
        self._policies = {
            channel: Policy(
                program_name=settings.program_name,
                remit_to_address=settings.remit_to_address,
                session_idle=dt.timedelta(seconds=settings.session_idle_seconds),
                channel=ABILITIES[channel],
            )
            for channel in Channel
        }

    def handle(
        self, message: InboundMessage, *, deadline: float | None = None, deliver: Deliver | None = None
    ) -> Outcome:
        """One step for one message. With a `deadline` (time.monotonic()), a step that could
        not finish in time is rolled back and StepTimedOut raised, so the channel's apology is
        true: nothing was done, and sending the message again is safe. `deliver` is called
        with the step's session, outcome and time just before the commit (not for a repeated
        delivery): a channel that answers later queues its replies there, in the same
        transaction as the step (bot/outbound)."""
        wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._runtime.writer.acquire(timeout=wait):
            raise StepTimedOut("waited too long for the database")
        try:
            return self._handle(message, deadline, deliver)
        finally:
            self._runtime.writer.release()

    def _handle(self, message: InboundMessage, deadline: float | None, deliver: Deliver | None) -> Outcome:
        now = self._clock()
        channel = Channel(message.channel)
        sender = message.sender[:64]
        with self._runtime.sessions() as session, session.begin():
            if message.delivery_id is not None:
                first_time = insert_ignoring_conflict(
                    session,
                    HandledDelivery,
                    {"channel": str(channel), "delivery_id": message.delivery_id[:64], "handled_at": now},
                )
                if not first_time:
                    return Outcome(duplicate=True)
            row = self._locked_conversation(session, channel, sender, now)
            conversation = ConversationState(
                state=_known_state(row.state),
                data=dict(row.data or {}),
                chosen_locale=row.chosen_locale,
                hint_locale=normalise_locale(message.locale_hint) or row.hint_locale,
                person_id=row.person_id,
                verified_at=row.verified_at,
                last_activity_at=row.last_activity_at,
            )
            context = DialogContext(
                conversation=conversation,
                services=StoreAccountServices(session, self._runtime.hasher, now),
                chat=ChatRef(str(channel), sender),
                now=now,
                policy=self._policies[channel],
                words_for=translator,
                alerts=StoreAlertConsent(session, now),
                person_language=conversation.data.get("person_lang") if row.person_id else None,
            )
            step(context, clean_text(message.text))
            record_offered_choices(context)

            session.connection().execute(
                _SAVE_CONVERSATION,
                {
                    "conversation_id": row.id,
                    "state": str(conversation.state),
                    "data": conversation.data,
                    "chosen_locale": conversation.chosen_locale,
                    "hint_locale": conversation.hint_locale,
                    "person_id": conversation.person_id,
                    "verified_at": conversation.verified_at,
                    "last_activity_at": now,
                },
            )
            if deadline is not None and time.monotonic() > deadline:
                # Leaving the block by an exception rolls the whole step back.
                raise StepTimedOut("the step finished after its answer was due")
            result = context.result
            outcome = Outcome(
                replies=result.replies,
                locale=context.locale,
                inbound_was_secret=result.inbound_was_secret,
                silent=result.silent,
            )
            if deliver is not None:
                deliver(session, outcome, now)
            return outcome

    def locale_of(self, channel: Channel, sender: str) -> str | None:
        """The language this chat's replies are in (the dialogs' rule), None for a chat never
        seen: for what a channel says outside a step, such as an apology."""
        with self._runtime.sessions() as session:
            connection = session.connection(execution_options={READ_ONLY: True})  # never waits for the writer
            row = connection.execute(_CONVERSATION_LANGUAGE, {"channel": str(channel), "sender": sender})
            found = row.one_or_none()
        if found is None:
            return None
        person_language = (found.data or {}).get("person_lang") if found.person_id else None
        return reply_locale(found.chosen_locale, person_language, found.hint_locale)

    def _locked_conversation(self, session: Session, channel: Channel, sender: str, now: dt.datetime) -> Row[Any]:
        key = {"channel": str(channel), "sender": sender}
        row = session.connection().execute(_LOCKED_CONVERSATION, key).one_or_none()
        if row is None:
            insert_ignoring_conflict(
                session,
                Conversation,
                {"channel": str(channel), "sender": sender, "state": str(State.IDLE), "data": {}, "created_at": now},
            )
            row = session.connection().execute(_LOCKED_CONVERSATION, key).one()
        return row


def _known_state(name: str) -> State:
    try:
        return State(name)
    except ValueError:  # a state removed by a newer release: start over
        return State.IDLE
