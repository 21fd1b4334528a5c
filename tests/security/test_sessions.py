"""Sessions through a running `csbot serve` with a real clock (CSBOT_SESSION_IDLE_SECONDS=3):
idle timeout (PIN again), the 12-hour limit (everything again), LOGOUT, and a chat that comes
to belong to another person keeps nothing of the old session (no data, no paging, no audit
records in the old person's name)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from bot.store.models import AuditRecord, Conversation
from tests.support.dialog_harness import JAMES, MARIA
from tests.support.fake_bot_api import FakeBotApi
from tests.support.live_service import TELEGRAM_TOKEN, Sms, Telegram, both_channels_env, db_engine, load_example
from tests.support.serve_process import running_serve

pytestmark = pytest.mark.slow

IDLE_SECONDS = 3
MARIA_BALANCE = "$1,475.75"
# Her case's oldest payment, only on page 2 of the list: seen only if a MORE pages on.
MARIA_LAST_PAYMENT_LINE = "Aug 14, 2026"


@pytest.fixture(scope="module")
def session_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = f"sqlite:///{tmp_path_factory.mktemp('sessions') / 'csbot.db'}"
    with FakeBotApi(TELEGRAM_TOKEN) as api:
        env = both_channels_env(url, api, CSBOT_SESSION_IDLE_SECONDS=str(IDLE_SECONDS))
        load_example(env)
        with running_serve(env) as server:
            db = db_engine(url)
            sms, telegram = Sms(server), Telegram(server, api)
            yield db, sms, telegram
            sms.close()
            telegram.close()
            db.dispose()


def _person_of(db, sender: str):  # type: ignore[no-untyped-def]
    with db.connect() as conn:
        return conn.scalar(select(Conversation.person_id).where(Conversation.sender == sender))


def test_idle_chat_gives_its_pin_again(session_stack) -> None:
    db, sms, telegram = session_stack
    sender = "+12125555001"
    assert "Maria" in sms.verify(sender, MARIA)
    assert MARIA_BALANCE in sms.say(sender, "BALANCE")
    time.sleep(IDLE_SECONDS + 1)
    reply = sms.say(sender, "BALANCE")
    assert "PIN again" in reply and MARIA_BALANCE not in reply and "Social Security" not in reply
    assert MARIA_BALANCE in sms.say(sender, MARIA["pin"])
    # Telegram, the same rule.
    telegram.send(555001, "/balance")
    telegram.send(555001, MARIA["ssn"])
    assert MARIA_BALANCE in telegram.say(555001, MARIA["pin"])
    time.sleep(IDLE_SECONDS + 1)
    assert MARIA_BALANCE not in telegram.say(555001, "/balance")


def test_twelve_hours_after_verification_everything_is_asked_again(session_stack) -> None:
    db, sms, _telegram = session_stack
    sender = "+12125555002"
    sms.verify(sender, MARIA)
    assert MARIA_BALANCE in sms.say(sender, "BALANCE")
    # Twelve hours and a minute ago (the chat stayed active: last activity is recent).
    with db.begin() as conn:
        conn.execute(
            update(Conversation)
            .where(Conversation.sender == sender)
            .values(verified_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=12, minutes=1))
        )
    reply = sms.say(sender, "BALANCE")
    assert "Social Security number" in reply and MARIA_BALANCE not in reply
    assert _person_of(db, sender) is None
    assert "PIN" in sms.say(sender, MARIA["ssn"])
    assert MARIA_BALANCE in sms.say(sender, MARIA["pin"])


def test_logout_ends_the_session_and_its_paging(session_stack) -> None:
    db, sms, _telegram = session_stack
    sender = "+12125555003"
    sms.verify(sender, MARIA)
    assert "Payments 1-3 of 5" in sms.say(sender, "PAYMENTS")
    assert "signed out" in sms.say(sender, "LOGOUT")
    assert _person_of(db, sender) is None
    for word in ("MORE", "BALANCE", "1", "PDF", "MENU"):
        reply = sms.say(sender, word)
        assert MARIA_BALANCE not in reply and MARIA_LAST_PAYMENT_LINE not in reply and "/d/" not in reply
    with db.connect() as conn:
        data = conn.scalar(select(Conversation.data).where(Conversation.sender == sender))
    assert "listing" not in data and "person_lang" not in data


def test_a_chat_linked_to_another_person_keeps_nothing_of_the_old_session(session_stack) -> None:
    db, sms, _telegram = session_stack
    sender = "+12125555004"
    sms.verify(sender, MARIA)
    assert "Payments 1-3 of 5" in sms.say(sender, "PAYMENTS")  # a listing waits for MORE
    time.sleep(IDLE_SECONDS + 1)
    assert "PIN again" in sms.say(sender, "MORE")
    # Someone else has the phone: a wrong PIN ends Maria's session; they verify as James.
    assert "could not verify" in sms.say(sender, "00000")
    assert _person_of(db, sender) is None
    sms.send(sender, JAMES["ssn"])
    assert "James" in sms.say(sender, JAMES["pin"])
    assert _person_of(db, sender) == JAMES["id"]
    switched_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    more = sms.say(sender, "MORE")
    assert MARIA_LAST_PAYMENT_LINE not in more and MARIA_BALANCE not in more
    balance = sms.say(sender, "BALANCE")
    assert "you pay support" in balance
    for word in ("PAYMENTS", "DISBURSEMENTS", "NOTICE", "STATEMENT"):
        reply = sms.say(sender, word)
        assert "Maria" not in reply and "Lopez" not in reply
    with db.connect() as conn:
        people = set(
            conn.scalars(
                select(AuditRecord.person_id).where(AuditRecord.sender == sender, AuditRecord.at >= switched_at)
            )
        )
    assert people == {JAMES["id"]}
