"""Benchmark senders: paying parents picked from the synthetic data, verified through the
conversation engine before the load, so each message of the load is a verified conversation."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from case_data import SEED

if TYPE_CHECKING:
    from bot.runtime import Runtime


def paying_parents(runtime: Runtime, cases: int, count: int, language: str = "en") -> list[int]:
    """`count` synthetic person indexes, spread over the data, each the paying parent of one
    case with payments on file, preferring `language` (so the expected answer is known)."""
    from sqlalchemy import select

    from bot.demo.synthetic import case_number, person_id
    from bot.store.models import Payment, Person

    step = max(1, cases // (count * 2))
    chosen: list[int] = []
    with runtime.sessions() as session:
        for c in range(0, cases):
            case_index = (c * step) % cases
            if case_index % 10 == 9:  # that case's payer also receives on another case
                continue
            index = 2 * case_index + 1
            lang = session.scalar(select(Person.language).where(Person.id == person_id(index)))
            paid = session.scalar(
                select(Payment.id).where(Payment.case_number == case_number(case_index)).limit(1)
            )
            if lang == language and paid is not None and index not in chosen:
                chosen.append(index)
            if len(chosen) == count:
                return chosen
    raise SystemExit(f"only {len(chosen)} paying parents speaking {language} in {cases} cases")


def verify_chats(runtime: Runtime, chats: list[tuple[str, str, int]], expect: str) -> None:
    """Verify each (channel, sender, person index) through the engine: BALANCE, SSN, PIN."""
    from bot.conversation.engine import ConversationEngine
    from bot.conversation.turn import InboundMessage
    from bot.demo.synthetic import credentials

    engine = ConversationEngine(runtime)
    for channel, sender, index in chats:
        creds = credentials(index, SEED)
        outcome = None
        for text in ("BALANCE", creds.ssn, creds.pin):
            outcome = engine.handle(InboundMessage(channel, sender, text, "pre-" + uuid.uuid4().hex))
        reply = "\n".join(r.text for r in outcome.replies) if outcome else ""
        if expect not in reply:
            raise SystemExit(f"verification of {sender} did not end in the answer: {reply!r}")
