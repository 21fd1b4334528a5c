"""Drive the conversation engine directly (no channel), with a clock the test controls."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from dataclasses import dataclass, field

from bot.conversation.engine import ConversationEngine
from bot.conversation.turn import Channel, InboundMessage, Outcome
from bot.runtime import Runtime

START = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)

# From tests/example-import.json.
MARIA = {"ssn": "987-65-4320", "pin": "48213", "id": "P-1001"}  # receiving, CS10000001, en
JAMES = {"ssn": "987-65-4321", "pin": "90517", "id": "P-1002"}  # paying, CS10000001, en
AMINATA = {"ssn": "987-65-4322", "pin": "31764", "id": "P-1003"}  # receiving 0002 + paying 0003, fr
CLAUDE = {"ssn": "987-65-4323", "pin": "62048", "id": "P-1004"}  # paying 0002, fr
DANA = {"ssn": "987-65-4324", "pin": "17395", "id": "P-1005"}  # receiving 0003, en
UNKNOWN_SSN = "987-65-4329"


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@dataclass
class Bot:
    runtime: Runtime
    clock: Clock
    engine: ConversationEngine
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _prefix: str = field(default_factory=lambda: secrets.token_hex(4))

    def send(
        self,
        text: str,
        sender: str = "+12125550100",
        channel: Channel = Channel.SMS,
        hint: str | None = None,
        delivery_id: str | None = None,
    ) -> Outcome:
        delivery = delivery_id or f"{self._prefix}-{next(self._ids)}"
        return self.engine.handle(InboundMessage(channel, sender, text, delivery, hint))

    def say(self, text: str, **kwargs: object) -> str:
        """The replies' text, joined: what a parent reads."""
        outcome = self.send(text, **kwargs)  # type: ignore[arg-type]
        return "\n".join(reply.text for reply in outcome.replies)

    def verify(self, person: dict, sender: str = "+12125550100", **kwargs: object) -> str:
        self.say("MENU", sender=sender, **kwargs)
        self.say(person["ssn"], sender=sender, **kwargs)
        return self.say(person["pin"], sender=sender, **kwargs)


def make_bot(runtime: Runtime) -> Bot:
    clock = Clock()
    return Bot(runtime=runtime, clock=clock, engine=ConversationEngine(runtime, clock=clock))
