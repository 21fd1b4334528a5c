"""No enumeration: nothing a parent sees, and no hashing work, tells a known SSN from an
unknown one.

For each path (unknown SSN, known SSN with a wrong PIN, locked account with the right PIN,
and the PIN re-mail request with matching, mismatching and unknown details) the test
records, step by step: the replies (text, choices, document), the secret flag, the dialog
state the chat is left in, and how many keyed hashes (SSN, PIN) and constant-time
comparisons were computed, by wrapping KeyedHasher's methods. Every path must match.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.conversation.turn import Channel
from bot.hashing import KeyedHasher
from bot.importer.pipeline import import_extract
from bot.runtime import open_runtime
from bot.store.models import Conversation
from tests.support.dialog_harness import CLAUDE, JAMES, MARIA, UNKNOWN_SSN, Bot, make_bot


@dataclass(frozen=True)
class Step:
    replies: tuple
    secret: bool
    state: str
    data_keys: tuple
    hashing: tuple


class HashCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: Counter[str] = Counter()
        for name in ("ssn", "pin", "same"):
            original = getattr(KeyedHasher, name)
            monkeypatch.setattr(KeyedHasher, name, self._counting(name, original))

    def _counting(self, name, original):  # type: ignore[no-untyped-def]
        counter = self.calls

        if name == "same":
            def same(a: bytes, b: bytes) -> bool:
                counter[name] += 1
                return original(a, b)

            return staticmethod(same)

        def method(self_, *args):  # type: ignore[no-untyped-def]
            counter[name] += 1
            return original(self_, *args)

        return method


@pytest.fixture
def bot(make_settings, db_url, example_extract_path):
    runtime = open_runtime(make_settings(db_url))
    import_extract(runtime, example_extract_path)
    yield make_bot(runtime)
    runtime.dispose()


def _run(bot: Bot, hashes: HashCounter, sender: str, texts: list[str], channel: Channel = Channel.SMS) -> list[Step]:
    steps = []
    for text in texts:
        hashes.calls.clear()
        outcome = bot.send(text, sender=sender, channel=channel)
        with bot.runtime.sessions() as s:
            row = s.scalars(
                select(Conversation).where(Conversation.sender == sender, Conversation.channel == str(channel))
            ).one()
            state, keys = row.state, tuple(sorted((row.data or {}).keys()))
        steps.append(
            Step(
                replies=tuple((r.text, r.choices, r.document) for r in outcome.replies),
                secret=outcome.inbound_was_secret,
                state=state,
                data_keys=keys,
                hashing=tuple(sorted(hashes.calls.items())),
            )
        )
    return steps


def test_unknown_ssn_wrong_pin_and_locked_account_are_indistinguishable(bot: Bot, monkeypatch) -> None:
    hashes = HashCounter(monkeypatch)
    unknown = _run(bot, hashes, "+12125556001", ["BALANCE", UNKNOWN_SSN, "11111", "BALANCE"])
    wrong_pin = _run(bot, hashes, "+12125556002", ["BALANCE", MARIA["ssn"], "11111", "BALANCE"])
    assert unknown == wrong_pin
    # The comparison happens on both paths (a decoy hash stands in for the unknown person).
    assert dict(unknown[2].hashing)["same"] >= 1 and dict(unknown[2].hashing)["pin"] >= 1
    assert dict(unknown[1].hashing)["ssn"] == 1

    # Lock James, then give his right PIN: the same steps, replies and work again.
    for attempt in range(5):
        _run(bot, hashes, f"+1212555610{attempt}", ["BALANCE", JAMES["ssn"], "00000"])
    locked = _run(bot, hashes, "+12125556003", ["BALANCE", JAMES["ssn"], JAMES["pin"], "BALANCE"])
    assert locked == unknown

    # In French, on Telegram: still the same between the two paths.
    fr_unknown = _run(bot, hashes, "61", ["FRANCAIS", "SOLDE", UNKNOWN_SSN, "12345"], Channel.TELEGRAM)
    fr_wrong = _run(bot, hashes, "62", ["FRANCAIS", "SOLDE", CLAUDE["ssn"], "12345"], Channel.TELEGRAM)
    assert fr_unknown == fr_wrong
    assert fr_unknown[2].replies != unknown[1].replies  # and it is really French


def test_pin_remail_request_is_indistinguishable(bot: Bot, monkeypatch) -> None:
    hashes = HashCounter(monkeypatch)
    matching = _run(bot, hashes, "+12125556201", ["PIN", MARIA["ssn"], "1988-03-14", "10027", "HELP"])
    wrong_zip = _run(bot, hashes, "+12125556202", ["PIN", MARIA["ssn"], "1988-03-14", "10028", "HELP"])
    wrong_birth = _run(bot, hashes, "+12125556203", ["PIN", MARIA["ssn"], "1988-03-15", "10027", "HELP"])
    unknown = _run(bot, hashes, "+12125556204", ["PIN", UNKNOWN_SSN, "1988-03-14", "10027", "HELP"])
    already = _run(bot, hashes, "+12125556205", ["PIN", MARIA["ssn"], "1988-03-14", "10027", "HELP"])
    assert matching == wrong_zip == wrong_birth == unknown == already
    assert dict(matching[1].hashing)["ssn"] == 1
