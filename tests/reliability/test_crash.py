"""`kill -9` of `csbot serve` under load on PostgreSQL, then a restart.

Twenty numbers each run a whole conversation (verify, balance, a message to the office, SEND,
help) at the same time; after 60 answered requests the server's whole process group gets
SIGKILL. Then a new server on the same database, with office mail configured:
- every acknowledged (HTTP 200) message was handled: its MessageSid is recorded;
- the requests that got no answer are delivered again with the same MessageSid, as Twilio
  would retry, and every conversation continues to its end with normal replies (none stuck,
  no apology);
- every number has exactly one office message (none lost, none doubled), and the outbox
  mails each exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.store.models import Conversation, HandledDelivery, OfficeMessage
from tests.support.dialog_harness import AMINATA, CLAUDE, DANA, JAMES, MARIA
from tests.support.live_service import APOLOGY, Sms, async_send, both_channels_env, count_rows, db_engine, load_example
from tests.support.serve_process import free_port
from tests.support.smtp_mailbox import Mailbox

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PEOPLE = [MARIA, JAMES, AMINATA, CLAUDE, DANA]
SENDERS = 20
KILL_AFTER = 60


def script(n: int) -> list[str]:
    person = PEOPLE[n % len(PEOPLE)]
    office = ["OFFICE"] if person is not AMINATA else ["OFFICE", "1"]  # two cases: pick one
    return ["BALANCE", person["ssn"], person["pin"], *office, f"Message number {n}, please call.", "SEND", "HELP"]


def test_kill_9_under_load_loses_nothing_and_doubles_nothing(postgres_url: str, serve) -> None:
    env = both_channels_env(postgres_url, None)
    load_example(env)
    first = serve(env, workers=1)
    sms = Sms(first)
    senders = [f"+1917555{3000 + n}" for n in range(SENDERS)]
    # Per sender: (text, sid, status) of each request sent before the kill.
    sent: dict[str, list[tuple[str, str, int | None, list[str]]]] = {s: [] for s in senders}
    answered = 0
    killed = threading.Event()

    async def converse(http: httpx.AsyncClient, n: int) -> None:
        nonlocal answered
        sender = senders[n]
        for text in script(n):
            if killed.is_set():
                return
            status, messages, sid = await async_send(http, sms, sender, text)
            sent[sender].append((text, sid, status, messages))
            if status is None:
                return  # the server is gone
            assert status == 200
            answered += 1
            if answered >= KILL_AFTER and not killed.is_set():
                killed.set()
                os.killpg(first.process.pid, signal.SIGKILL)  # the server and any children

    async def load() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            await asyncio.gather(*(converse(http, n) for n in range(SENDERS)))

    asyncio.run(load())
    assert killed.is_set()
    first.process.wait(10)
    assert first.process.returncode == -signal.SIGKILL

    db = db_engine(postgres_url)
    try:
        acknowledged = [sid for records in sent.values() for _t, sid, status, _m in records if status == 200]
        assert len(acknowledged) >= KILL_AFTER
        with db.connect() as conn:
            handled = set(conn.scalars(select(HandledDelivery.delivery_id)))
        assert set(acknowledged) <= handled  # every 200 was committed before it was sent

        mailbox = Mailbox()
        smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
        smtp.start()
        try:
            second = serve({**env, "CSBOT_SMTP_HOST": "127.0.0.1", "CSBOT_SMTP_PORT": str(smtp.port)})
            sms = Sms(second)
            for n, sender in enumerate(senders):
                records = sent[sender]
                steps = script(n)
                # Redeliver the unanswered request (same MessageSid), then go on with the script.
                if records and records[-1][2] is None:
                    text, sid, _status, _messages = records[-1]
                    retried = sms.send(sender, text, sid=sid)
                    assert all(APOLOGY not in m for m in retried)
                for text in steps[len(records):]:
                    reply = sms.say(sender, text)
                    assert reply and APOLOGY not in reply, (sender, text, reply)
                # Not stuck: the conversation is at rest and answers like any other.
                follow_up = sms.say(sender, "BALANCE")
                assert "Case *" in follow_up or "Dossier *" in follow_up, follow_up
            with db.connect() as conn:
                per_sender = dict(
                    conn.execute(
                        select(OfficeMessage.sender, OfficeMessage.reference)
                    ).all()
                )
                assert count_rows(db, OfficeMessage) == SENDERS
                assert set(per_sender) == set(senders)
                states = set(conn.scalars(select(Conversation.state).where(Conversation.sender.in_(senders))))
            assert states == {"idle"}
            # Every acknowledged SEND's reference is the one stored for that number.
            for sender, records in sent.items():
                for text, _sid, status, messages in records:
                    if text == "SEND" and status == 200:
                        assert per_sender[sender] in "\n".join(messages)
            deadline = time.monotonic() + 60
            while len(mailbox.received) < SENDERS and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(6)  # longer than the outbox's poll: nothing more arrives
            with mailbox.lock:
                mailed = [raw for raw in mailbox.received]
            references = sorted(
                next(line.split(b":", 1)[1].strip().decode() for line in raw.splitlines() if line.startswith(b"X-Csbot-Reference"))
                for raw in mailed
            )
            assert references == sorted(per_sender.values())
            sms.close()
            second.stop()
            assert "Traceback" not in second.log_text()
        finally:
            smtp.stop()
    finally:
        db.dispose()
