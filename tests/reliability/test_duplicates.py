"""Duplicates through a running `csbot serve`: the same Twilio MessageSid, or Telegram
update_id, delivered 5 times (one after another and at the same time) gives one reply, one
queued office message and one office mail."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiosmtpd.controller import Controller

from bot.store.models import HandledDelivery, OfficeMessage
from tests.support.dialog_harness import CLAUDE, MARIA
from tests.support.fake_bot_api import FakeBotApi, next_update_id
from tests.support.live_service import (
    TELEGRAM_TOKEN,
    Sms,
    Telegram,
    async_send,
    both_channels_env,
    count_rows,
    db_engine,
    load_example,
)
from tests.support.serve_process import free_port, running_serve
from tests.support.smtp_mailbox import Mailbox

pytestmark = pytest.mark.slow


def test_five_deliveries_of_one_message_act_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'csbot.db'}"
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with FakeBotApi(TELEGRAM_TOKEN) as api:
            env = both_channels_env(url, api, CSBOT_SMTP_HOST="127.0.0.1", CSBOT_SMTP_PORT=str(smtp.port))
            load_example(env)
            with running_serve(env) as server:
                db = db_engine(url)
                sms, telegram = Sms(server), Telegram(server, api)
                # SMS: a message to the office, confirmed with SEND delivered five times.
                sender = "+12125553001"
                sms.verify(sender, MARIA)
                sms.send(sender, "OFFICE")
                sms.send(sender, "Please call me back.")
                sid = sms.next_sid()
                sequential = [sms.send(sender, "SEND", sid=sid) for _ in range(2)]

                async def together() -> list:
                    async with httpx.AsyncClient(timeout=30) as http:
                        return await asyncio.gather(*(async_send(http, sms, sender, "SEND", sid) for _ in range(3)))

                concurrent = asyncio.run(together())
                assert all(status == 200 for status, _messages, _sid in concurrent)
                answered = [m for m in sequential + [messages for _s, messages, _i in concurrent] if m]
                assert len(answered) == 1 and "Your reference is OM-" in answered[0][0]
                assert count_rows(db, HandledDelivery, HandledDelivery.delivery_id == sid) == 1

                # Telegram: ENVOYER as one update delivered five times.
                chat = 553002
                for text in ("/start", CLAUDE["ssn"], CLAUDE["pin"], "BUREAU", "Rappelez-moi, merci."):
                    telegram.send(chat, text, "fr")
                update_id = next_update_id()
                replies = [telegram.send(chat, "ENVOYER", "fr", update_id=update_id) for _ in range(5)]
                assert [bool(r) for r in replies] == [True, False, False, False, False]
                assert count_rows(db, OfficeMessage) == 2

                # The outbox mails each message once (and nothing more arrives later).
                deadline = time.monotonic() + 30
                while len(mailbox.received) < 2 and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(6)  # longer than the outbox's poll interval
                with mailbox.lock:
                    assert len(mailbox.received) == 2
                sms.close()
                telegram.close()
                db.dispose()
    finally:
        smtp.stop()
