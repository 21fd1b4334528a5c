"""PIN guessing through a running `csbot serve` (HTTP, both channels), not the engine alone.

- The 5-failure account lock counts failures from every number and chat, on SMS and
  Telegram, in English and French; while locked, the right PIN gets the very reply a wrong
  one gets, whatever the channel or language; staff `csbot lockouts unlock` reopens it.
- The per-chat throttle: 10 failed verifications from one number refuse that number (in its
  language), and only that number.
- Concurrent guesses (PostgreSQL, two workers): a burst of wrong PINs from many numbers at
  once all count, none gets an error, and the lock then holds.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from bot.cli import main as csbot_main
from bot.store.models import AccountLock, VerificationFailure
from tests.support.databases import TEST_SECRET_KEY
from tests.support.dialog_harness import CLAUDE, DANA, JAMES, MARIA, UNKNOWN_SSN
from tests.support.live_service import (
    APOLOGY,
    Sms,
    both_channels_env,
    count_rows,
    db_engine,
    load_example,
    messages_of,
)

pytestmark = pytest.mark.slow

FAILED_EN = "We could not verify these details"
FAILED_FR = "pas pu vérifier ces informations"


def _sms_attempt(sms: Sms, sender: str, person: dict, pin: str) -> str:
    sms.send(sender, "MENU")  # a word of both languages: the chat's own language stays
    sms.send(sender, person["ssn"])
    return sms.say(sender, pin)


def _telegram_attempt(telegram, chat_id: int, person: dict, pin: str, language: str) -> str:  # type: ignore[no-untyped-def]
    telegram.send(chat_id, "/balance", language)
    telegram.send(chat_id, person["ssn"], language)
    return telegram.say(chat_id, pin, language)


def _staff(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str, *argv: str) -> str:
    monkeypatch.setenv("CSBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("CSBOT_SECRET_KEY", TEST_SECRET_KEY)
    capsys.readouterr()
    status = csbot_main(list(argv))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out


def test_lock_holds_across_numbers_channels_and_languages_until_staff_unlock(
    stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, db, sms, telegram = stack
    # Five wrong PINs for one account: two SMS numbers (one in French), three Telegram chats.
    sms.send("+12125557002", "FRANCAIS")
    failures = [
        _sms_attempt(sms, "+12125557001", MARIA, "11111"),
        _sms_attempt(sms, "+12125557002", MARIA, "22222"),
        _telegram_attempt(telegram, 770001, MARIA, "33333", "en"),
        _telegram_attempt(telegram, 770002, MARIA, "44444", "fr"),
    ]
    assert FAILED_EN in failures[0] and FAILED_FR in failures[1]
    assert FAILED_EN in failures[2] and FAILED_FR in failures[3]
    with db.connect() as conn:
        assert conn.scalar(select(AccountLock.locked_until).where(AccountLock.person_id == MARIA["id"])) is None
    fifth = _sms_attempt(sms, "+12125557003", MARIA, "55555")
    with db.connect() as conn:
        assert conn.scalar(select(AccountLock.locked_until).where(AccountLock.person_id == MARIA["id"])) is not None

    # Locked: the right PIN, from numbers and chats never used, gets the wrong-PIN reply.
    assert _sms_attempt(sms, "+12125557004", MARIA, MARIA["pin"]) == fifth
    sms.send("+12125557005", "FRANCAIS")
    assert _sms_attempt(sms, "+12125557005", MARIA, MARIA["pin"]) == failures[1]
    locked_tg_fr = _telegram_attempt(telegram, 770003, MARIA, MARIA["pin"], "fr")
    assert FAILED_FR in locked_tg_fr and "Maria" not in locked_tg_fr
    assert locked_tg_fr == _telegram_attempt(telegram, 770004, MARIA, "66666", "fr")
    assert "Maria" not in _telegram_attempt(telegram, 770005, MARIA, MARIA["pin"], "en")

    # Staff see the lock and lift it; the right PIN then works at once.
    database_url = server.env["CSBOT_DATABASE_URL"]
    listed = _staff(monkeypatch, capsys, database_url, "lockouts", "list")
    assert MARIA["id"] in listed and JAMES["id"] not in listed
    _staff(monkeypatch, capsys, database_url, "lockouts", "unlock", MARIA["id"])
    assert MARIA["id"] not in _staff(monkeypatch, capsys, database_url, "lockouts", "list")
    assert "Maria" in _telegram_attempt(telegram, 770006, MARIA, MARIA["pin"], "fr")
    assert "Maria" in _sms_attempt(sms, "+12125557006", MARIA, MARIA["pin"])


def test_ten_failures_throttle_one_number_in_its_language_and_only_it(stack) -> None:
    _server, db, sms, _telegram = stack
    sender = "+12125557100"
    sms.send(sender, "FRANCAIS")
    people = [JAMES, CLAUDE, DANA]
    for attempt in range(10):
        person = people[attempt % 3] if attempt % 2 else {"ssn": UNKNOWN_SSN}
        reply = _sms_attempt(sms, sender, person, "00000")
        assert FAILED_FR in reply or "Trop de tentatives" in reply, reply
    assert count_rows(db, VerificationFailure, VerificationFailure.sender == sender) == 10
    throttled = sms.say(sender, "SOLDE")
    assert "Trop de tentatives" in throttled and "888-208-4485" in throttled
    # The right SSN and PIN from the throttled number do not verify.
    for text in (DANA["ssn"], DANA["pin"], "MENU", DANA["ssn"], DANA["pin"]):
        assert "Dana" not in sms.say(sender, text)
    # No account was locked by the spread-out failures, and another number is not refused.
    assert "Dana" in _sms_attempt(sms, "+12125557101", DANA, DANA["pin"])


@pytest.mark.postgres
def test_concurrent_guesses_from_many_numbers_all_count(postgres_url: str, serve) -> None:
    env = both_channels_env(postgres_url, None)
    load_example(env)
    server = serve(env, workers=2)
    sms = Sms(server)
    senders = [f"+1347555{7200 + n}" for n in range(12)]
    for sender in senders:
        sms.send(sender, "BALANCE")
        sms.send(sender, JAMES["ssn"])

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            requests = []
            for n, sender in enumerate(senders):
                params = sms.params(sender, f"{10000 + n}")
                requests.append(http.post(sms.url, data=params, headers={"X-Twilio-Signature": sms.sign(params)}))
            return await asyncio.gather(*requests)

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * len(senders)
    for response in responses:
        text = "\n".join(messages_of(response.text))
        assert FAILED_EN in text and APOLOGY not in text, text
    db = db_engine(postgres_url)
    try:
        assert count_rows(db, VerificationFailure) == len(senders)
        with db.connect() as conn:
            assert conn.scalar(select(AccountLock.locked_until).where(AccountLock.person_id == JAMES["id"])) is not None
    finally:
        db.dispose()
    assert "James" not in _sms_attempt(sms, "+13475557299", JAMES, JAMES["pin"])
    # An unknown SSN on PostgreSQL gets the same failure reply, not an error.
    unknown = _sms_attempt(sms, "+13475557298", {"ssn": UNKNOWN_SSN}, "12345")
    assert FAILED_EN in unknown and APOLOGY not in unknown
    sms.close()
