"""The outbox worker against a real local SMTP server (aiosmtpd), on SQLite and PostgreSQL.

Nothing here mocks aiosmtplib: mail goes over TCP to an aiosmtpd Controller on 127.0.0.1, and
"SMTP down" means nothing listens on the port. Time is injected (`now=`) where backoff and
lease expiry matter; the crash test kills a real `csbot worker` process mid-delivery.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import logging
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select, update

from bot.hashing import KeyedHasher
from bot.outbox import (
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    OutboxComponent,
    OutboxPolicy,
    drain_once,
)
from bot.runtime import Runtime
from bot.store.models import Case, Office, OfficeMessage, Person
from tests.support.databases import TEST_SECRET_KEY

REPO = Path(__file__).resolve().parent.parent
FROM = "Child Support Bot <csbot@agency.example.org>"
OFFICE_EMAIL = "manhattan.office@example.org"
CASE_NUMBER = "CS-2026-000123"
SSN = "987-65-4320"
PIN = "48213"
SMTP_USER = "csbot-relay"
SMTP_PASSWORD = "s3cret-Relay-Passw0rd"
PARENT_TEXT = (
    "Bonjour, je n'ai pas reçu le versement de décembre 🙏\n"
    "Pouvez-vous vérifier ? Merci — Maria 😊\n"
    "Ligne 3 avec des espaces   à la fin   "
)


# --- a real SMTP server ------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class CollectingHandler:
    received: list[Received] = field(default_factory=list)
    refuse_rcpt: str | None = None  # e.g. "550 5.1.1 no such mailbox"
    delay: float = 0.0  # seconds to hold DATA before answering
    on_data: object = None  # callable run after a message is stored, before the 250 reply
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        if self.on_data is not None:
            self.on_data()  # type: ignore[operator]
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [r.message["Message-ID"] for r in self.received]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port; start/stop at will to simulate outages."""

    def __init__(self, port: int, handler: CollectingHandler, **smtp_kwargs) -> None:
        self.port = port
        self.handler = handler
        self.smtp_kwargs = smtp_kwargs
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.smtp_kwargs
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_handler() -> CollectingHandler:
    return CollectingHandler()


@pytest.fixture
def smtp_server(smtp_handler):
    server = SmtpServer(free_port(), smtp_handler)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def password_authenticator(handler: CollectingHandler):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
            if ok:
                handler.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535
        return AuthResult(success=False, handled=False)

    return authenticate


# --- seeding the store -------------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 20, 14, 3, tzinfo=dt.UTC)


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    env = {
        "CSBOT_SMTP_HOST": "127.0.0.1",
        "CSBOT_SMTP_PORT": str(port),
        "CSBOT_SMTP_FROM": FROM,
    }
    env.update(extra)
    return env


def seed_accounts(runtime: Runtime) -> None:
    hasher = KeyedHasher(TEST_SECRET_KEY.encode())
    with runtime.sessions.begin() as session:
        session.add(
            Office(
                code="MAN",
                name="Manhattan Child Support Office",
                email=OFFICE_EMAIL,
                phone="+1 212 555 0100",
                address="100 Example Street, New York, NY 10007",
            )
        )
        for pid, first, last, ssn in (
            ("P-1001", "Maria", "Lopez", SSN),
            ("P-1002", "James", "Carter", "987-65-4321"),
        ):
            session.add(
                Person(
                    id=pid,
                    first_name=first,
                    last_name=last,
                    ssn_hash=hasher.ssn(ssn.replace("-", "")),
                    pin_hash=hasher.pin(pid, PIN),
                    date_of_birth=dt.date(1988, 3, 14),
                    phone="+12125550111",
                    language="fr",
                    address_line1="12 West 120th Street",
                    address_line2=None,
                    address_city="New York",
                    address_state="NY",
                    address_zip="10027",
                )
            )
        session.flush()
        session.add(
            Case(
                case_number=CASE_NUMBER,
                office_code="MAN",
                custodial_parent_id="P-1001",
                noncustodial_parent_id="P-1002",
                support_amount=500,
                support_frequency="monthly",
                arrears_balance=0,
                next_due_date=None,
                as_of=None,
            )
        )


def queue_message(
    runtime: Runtime,
    reference: str,
    *,
    text: str = PARENT_TEXT,
    person_id: str = "P-1001",
    role: str = "receiving",
    channel: str = "sms",
    sender: str = "+12125550111",
    at: dt.datetime = T0,
) -> int:
    with runtime.sessions.begin() as session:
        row = OfficeMessage(
            reference=reference,
            person_id=person_id,
            case_number=CASE_NUMBER,
            office_code="MAN",
            role=role,
            channel=channel,
            sender=sender,
            body=text,
            status=QUEUED,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        session.add(row)
        session.flush()
        return row.id


def load(runtime: Runtime, message_id: int) -> OfficeMessage:
    with runtime.sessions() as session:
        row = session.get(OfficeMessage, message_id)
        assert row is not None
        return row



@pytest.fixture
def seeded(db_url, runtime_factory, smtp_server):
    """A migrated database with an office, two parents and a case; SMTP pointing at the server."""
    runtime = runtime_factory(db_url, **smtp_env(smtp_server.port))
    seed_accounts(runtime)
    return runtime


# --- the mail itself -----------------------------------------------------------------------------


def test_mail_arrives_once_with_every_field(seeded, smtp_server, smtp_handler):
    message_id = queue_message(seeded, "OM-7K3F9Q2A")

    assert drain_once(seeded, now=T0) == 1
    assert drain_once(seeded, now=T0 + dt.timedelta(hours=1)) == 0  # nothing left to send

    assert len(smtp_handler.received) == 1
    got = smtp_handler.received[0]
    assert got.mail_from == "csbot@agency.example.org"
    assert got.rcpt_tos == [OFFICE_EMAIL]
    mail = got.message
    assert OFFICE_EMAIL in mail["To"]
    assert "OM-7K3F9Q2A" in mail["Subject"] and CASE_NUMBER in mail["Subject"]
    assert mail["Message-ID"] == "<OM-7K3F9Q2A@csbot.agency.example.org>"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert "Reply-To" not in mail
    # Text travels in MIME's canonical form (CRLF line ends); the characters are unchanged.
    body = mail.get_content().replace("\r\n", "\n")
    assert "Maria Lopez" in body
    assert "receiving parent (custodial parent)" in body
    assert CASE_NUMBER in body
    assert "SMS" in body and "+12125550111" in body
    assert "2026-11-20 14:03 UTC" in body
    assert "usual" in body  # tells staff to answer by their usual means
    typed = body.split("----- message as typed by the parent -----\n", 1)[1]
    typed = typed.rsplit("\n----- end of message -----", 1)[0]
    assert typed == PARENT_TEXT  # accents, emoji and trailing spaces intact

    row = load(seeded, message_id)
    assert (row.status, row.attempts, row.sent_at, row.claimed_until) == (SENT, 1, T0, None)


def test_telegram_paying_parent_is_described(seeded, smtp_handler):
    queue_message(
        seeded, "OM-TELEGRAM1", person_id="P-1002", role="paying", channel="telegram",
        sender="555001122", text="Hello",
    )
    assert drain_once(seeded, now=T0) == 1
    body = smtp_handler.received[0].message.get_content()
    assert "James Carter" in body
    assert "paying parent (noncustodial parent)" in body
    assert "Telegram (chat id 555001122)" in body


def test_mail_carries_no_secret(seeded, smtp_handler):
    queue_message(seeded, "OM-NOSECRET")
    assert drain_once(seeded, now=T0) == 1
    raw = smtp_handler.received[0].raw.decode("ascii")  # 7-bit clean on the wire
    for secret in (SSN, SSN.replace("-", ""), PIN, TEST_SECRET_KEY):
        assert secret not in raw
    with seeded.sessions() as session:
        person = session.get(Person, "P-1001")
        assert person.ssn_hash.hex() not in raw and person.pin_hash.hex() not in raw


def test_recipient_refused_fails_at_once(seeded, smtp_handler):
    smtp_handler.refuse_rcpt = "550 5.1.1 mailbox unavailable"
    message_id = queue_message(seeded, "OM-REFUSED1")
    assert drain_once(seeded, now=T0) == 0
    row = load(seeded, message_id)
    assert row.status == FAILED and row.attempts == 1
    assert "550" in row.last_error and "mailbox unavailable" in row.last_error


def test_missing_office_is_retried_not_dropped(seeded, smtp_handler):
    message_id = queue_message(seeded, "OM-NOOFFICE")
    with seeded.sessions.begin() as session:
        session.execute(
            update(OfficeMessage).where(OfficeMessage.id == message_id).values(office_code="GONE")
        )
    assert drain_once(seeded, now=T0) == 0
    row = load(seeded, message_id)
    assert row.status == QUEUED and row.attempts == 1
    assert "office GONE is not on file" in row.last_error
    assert smtp_handler.received == []


# --- outages, backoff, failure and retry ---------------------------------------------------------


def test_smtp_down_backs_off_with_jitter_then_delivers_once(db_url, runtime_factory, smtp_handler):
    port = free_port()  # nothing listens here yet
    runtime = runtime_factory(db_url, **smtp_env(port))
    seed_accounts(runtime)
    ids = [queue_message(runtime, f"OM-DOWN{n:04d}") for n in range(5)]
    policy = OutboxPolicy(backoff_base=dt.timedelta(seconds=30))
    rng = random.Random(7)

    assert drain_once(runtime, now=T0, policy=policy, rng=rng) == 0
    rows = [load(runtime, i) for i in ids]
    delays = [(r.next_attempt_at - T0).total_seconds() for r in rows]
    assert all(r.status == QUEUED and r.attempts == 1 for r in rows)
    assert all(1.0 <= d <= 30.0 for d in delays), delays
    assert len(set(delays)) == len(delays)  # jittered, not in lockstep
    assert all("cannot connect" in r.last_error for r in rows)

    # Not yet due: nothing is tried, nothing changes.
    assert drain_once(runtime, now=T0, policy=policy, rng=rng) == 0
    assert [load(runtime, i).attempts for i in ids] == [1] * 5

    t1 = T0 + dt.timedelta(seconds=31)
    assert drain_once(runtime, now=t1, policy=policy, rng=rng) == 0
    rows = [load(runtime, i) for i in ids]
    assert all(r.attempts == 2 for r in rows)
    assert all(1.0 <= (r.next_attempt_at - t1).total_seconds() <= 60.0 for r in rows)

    server = SmtpServer(port, smtp_handler)
    server.start()
    try:
        t2 = t1 + dt.timedelta(seconds=61)
        assert drain_once(runtime, now=t2, policy=policy, rng=rng) == 5
        assert drain_once(runtime, now=t2 + dt.timedelta(days=1), policy=policy, rng=rng) == 0
    finally:
        server.stop()
    counts = Counter(smtp_handler.message_ids())
    assert sorted(counts) == sorted(f"<OM-DOWN{n:04d}@csbot.agency.example.org>" for n in range(5))
    assert set(counts.values()) == {1}
    assert all(load(runtime, i).status == SENT for i in ids)


def test_backoff_grows_exponentially_up_to_the_cap():
    policy = OutboxPolicy(
        backoff_base=dt.timedelta(seconds=30), backoff_cap=dt.timedelta(hours=1)
    )
    ceilings = [policy.backoff_ceiling(n).total_seconds() for n in range(1, 10)]
    assert ceilings == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    rng = random.Random(1)
    samples = [policy.backoff(4, rng).total_seconds() for _ in range(200)]
    assert min(samples) >= 1.0 and max(samples) <= 240.0
    assert max(samples) > 120.0 and min(samples) < 60.0  # spread over the whole range


def test_last_attempt_marks_failed_and_retry_delivers(db_url, runtime_factory, smtp_handler):
    port = free_port()
    runtime = runtime_factory(db_url, **smtp_env(port))
    seed_accounts(runtime)
    message_id = queue_message(runtime, "OM-FAILME01")
    policy = OutboxPolicy(max_attempts=3)
    now = T0
    for attempt in range(1, 4):
        assert drain_once(runtime, now=now, policy=policy) == 0
        row = load(runtime, message_id)
        assert row.attempts == attempt
        now = now + policy.backoff_cap + dt.timedelta(seconds=1)
    assert row.status == FAILED
    assert "cannot connect" in row.last_error
    # A failed message stays put however long we wait.
    assert drain_once(runtime, now=now + dt.timedelta(days=30), policy=policy) == 0
    assert load(runtime, message_id).status == FAILED

    # What `csbot office-messages retry` does.
    with runtime.sessions.begin() as session:
        session.execute(
            update(OfficeMessage)
            .where(OfficeMessage.id == message_id)
            .values(status=QUEUED, attempts=0, next_attempt_at=now)
        )
    server = SmtpServer(port, smtp_handler)
    server.start()
    try:
        assert drain_once(runtime, now=now, policy=policy) == 1
    finally:
        server.stop()
    row = load(runtime, message_id)
    assert (row.status, row.attempts) == (SENT, 1)
    assert smtp_handler.message_ids() == ["<OM-FAILME01@csbot.agency.example.org>"]


# --- crash between sending and marking -----------------------------------------------------------


def worker_env(db_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSBOT_", "TWILIO_", "TELEGRAM_"))}
    env.update(CSBOT_DATABASE_URL=db_url, CSBOT_SECRET_KEY=TEST_SECRET_KEY, **smtp_env(port))
    env.update(extra)
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_worker_killed_after_sending_resends_with_same_message_id(
    db_url, runtime_factory, smtp_server, smtp_handler
):
    runtime = runtime_factory(db_url, **smtp_env(smtp_server.port))
    seed_accounts(runtime)
    started = dt.datetime.now(dt.UTC)
    message_id = queue_message(runtime, "OM-CRASH001", at=started)

    worker = start_worker(worker_env(db_url, smtp_server.port))
    # The server has the whole message; the worker dies before it reads "250" and marks it.
    smtp_handler.on_data = lambda: (os.kill(worker.pid, signal.SIGKILL), worker.wait())
    try:
        wait_for(lambda: len(smtp_handler.received) == 1)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        smtp_handler.on_data = None
    assert worker.returncode == -signal.SIGKILL

    row = load(runtime, message_id)
    assert (row.status, row.attempts) == (SENDING, 1)
    assert row.claimed_until is not None

    # While the dead worker's lease runs, nobody else sends it.
    assert drain_once(runtime, now=row.claimed_until - dt.timedelta(seconds=1)) == 0
    assert len(smtp_handler.received) == 1
    # After it: resent, with the same Message-ID, and marked sent.
    assert drain_once(runtime, now=row.claimed_until + dt.timedelta(seconds=1)) == 1
    first, second = smtp_handler.received
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert first.message["Message-ID"] == "<OM-CRASH001@csbot.agency.example.org>"
    assert first.message.get_content() == second.message.get_content()
    row = load(runtime, message_id)
    assert (row.status, row.attempts) == (SENT, 2)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_csbot_worker_authenticates_and_never_logs_the_password(
    db_url, runtime_factory, smtp_handler, tmp_path
):
    server = SmtpServer(
        free_port(),
        smtp_handler,
        authenticator=password_authenticator(smtp_handler),
        auth_required=True,
        auth_require_tls=False,
    )
    server.start()
    try:
        runtime = runtime_factory(db_url, **smtp_env(server.port))
        seed_accounts(runtime)
        started = dt.datetime.now(dt.UTC)
        first = queue_message(runtime, "OM-AUTH0001", at=started)
        env = worker_env(
            db_url,
            server.port,
            CSBOT_SMTP_USER=SMTP_USER,
            CSBOT_SMTP_PASSWORD=SMTP_PASSWORD,
            CSBOT_LOG_LEVEL="DEBUG",
        )
        worker = start_worker(env)
        try:
            wait_for(lambda: load(runtime, first).status == SENT)
            second = queue_message(runtime, "OM-AUTH0002", at=dt.datetime.now(dt.UTC))
            wait_for(lambda: load(runtime, second).status == SENT)  # picked up by polling
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert worker.returncode == 0, err
        assert "outbox worker stopped" in err
        assert SMTP_USER in smtp_handler.logins
        assert len(smtp_handler.received) == 2
        assert SMTP_PASSWORD not in out + err
        assert TEST_SECRET_KEY not in out + err
        for got in smtp_handler.received:
            assert SMTP_PASSWORD.encode() not in got.raw

        # A wrong password: the attempt fails, its error names the refusal, not the password.
        bad = queue_message(runtime, "OM-AUTH0003", at=started)
        env["CSBOT_SMTP_PASSWORD"] = "wrong-" + SMTP_PASSWORD
        worker = start_worker(env)
        try:
            wait_for(lambda: load(runtime, bad).attempts >= 1 and load(runtime, bad).status == QUEUED)
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        row = load(runtime, bad)
        assert "535" in row.last_error or "login" in row.last_error
        assert SMTP_PASSWORD not in row.last_error and SMTP_PASSWORD not in out + err
        assert len(smtp_handler.received) == 2
    finally:
        server.stop()


def test_csbot_worker_without_smtp_is_a_one_line_error(sqlite_url, runtime_factory):
    runtime = runtime_factory(sqlite_url)
    seed_accounts(runtime)
    queue_message(runtime, "OM-NOSMTP01")
    env = worker_env(sqlite_url, 25)
    del env["CSBOT_SMTP_HOST"]
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "CSBOT_SMTP_HOST is not set" in result.stderr and "1 waiting" in result.stderr


# --- concurrency -----------------------------------------------------------------------------------


def test_two_workers_deliver_each_message_exactly_once(db_url, runtime_factory, smtp_server, smtp_handler):
    smtp_handler.delay = 0.005  # keep sends in flight so the claims overlap
    setup = runtime_factory(db_url, **smtp_env(smtp_server.port))
    seed_accounts(setup)
    for n in range(50):
        queue_message(setup, f"OM-PAR{n:05d}")
    workers = [runtime_factory(db_url, **smtp_env(smtp_server.port)) for _ in range(2)]
    sent = [0, 0]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def drain(index: int) -> None:
        try:
            barrier.wait()
            while True:
                count = drain_once(workers[index], now=T0)
                sent[index] += count
                if count == 0:
                    return
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(sent) == 50, sent
    counts = Counter(smtp_handler.message_ids())
    assert len(counts) == 50 and set(counts.values()) == {1}
    with setup.sessions() as session:
        statuses = Counter(session.scalars(select(OfficeMessage.status)))
        attempts = set(session.scalars(select(OfficeMessage.attempts)))
    assert statuses == {SENT: 50} and attempts == {1}


@pytest.mark.postgres
def test_claims_skip_rows_another_worker_holds(postgres_url, runtime_factory):
    """A claim on PostgreSQL never waits for, nor takes, a row locked by another transaction."""
    runtime = runtime_factory(postgres_url, **smtp_env(free_port()))
    seed_accounts(runtime)
    held = queue_message(runtime, "OM-HELD0001")
    free = queue_message(runtime, "OM-FREE0001")
    from bot.outbox import claim_batch

    with runtime.sessions.begin() as other:
        other.execute(select(OfficeMessage).where(OfficeMessage.id == held).with_for_update())
        started = time.monotonic()
        claimed = claim_batch(runtime, T0, OutboxPolicy())
        assert time.monotonic() - started < 5
    assert [c.id for c in claimed] == [free]


# --- csbot serve: the background component -----------------------------------------------------


def test_component_delivers_when_woken_and_stops_after_the_send_in_flight(
    db_url, runtime_factory, smtp_server, smtp_handler
):
    runtime = runtime_factory(db_url, **smtp_env(smtp_server.port))
    seed_accounts(runtime)
    policy = OutboxPolicy(poll_interval=3600)  # only wake() can make it look

    async def scenario() -> None:
        component = OutboxComponent(runtime, policy=policy)
        assert component.routes == []
        await component.startup()
        now = dt.datetime.now(dt.UTC)
        first = await asyncio.to_thread(queue_message, runtime, "OM-WAKE0001", at=now)
        component.wake()
        for _ in range(200):
            if (await asyncio.to_thread(load, runtime, first)).status == SENT:
                break
            await asyncio.sleep(0.05)
        assert (await asyncio.to_thread(load, runtime, first)).status == SENT

        # Three due at once, the server slow: stop during the first send.
        smtp_handler.delay = 1.0
        ids = [
            await asyncio.to_thread(queue_message, runtime, f"OM-SLOW{n:04d}", at=now)
            for n in range(3)
        ]
        component.wake()
        for _ in range(200):
            if len(smtp_handler.received) == 2:
                break
            await asyncio.sleep(0.02)
        await component.shutdown()
        rows = [await asyncio.to_thread(load, runtime, i) for i in ids]
        assert rows[0].status == SENT  # the send in flight finished and was marked
        assert [(r.status, r.attempts) for r in rows[1:]] == [(QUEUED, 0), (QUEUED, 0)]

    asyncio.run(scenario())
    assert len(smtp_handler.received) == 2


def test_no_smtp_configured_warns_at_startup_and_keeps_the_queue(
    sqlite_url, runtime_factory, caplog
):
    runtime = runtime_factory(sqlite_url)
    seed_accounts(runtime)
    ids = [queue_message(runtime, f"OM-WAIT{n:04d}") for n in range(3)]

    async def scenario() -> None:
        component = OutboxComponent(runtime)
        await component.startup()
        await component.shutdown()

    with caplog.at_level(logging.INFO, logger="csbot.outbox"):
        asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "3 office message(s) waiting" in text and "CSBOT_SMTP_HOST" in text
    assert drain_once(runtime, now=T0 + dt.timedelta(days=1)) == 0
    assert {load(runtime, i).status for i in ids} == {QUEUED}


# --- STARTTLS ------------------------------------------------------------------------------------


@pytest.fixture
def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made by the openssl command (no Python crypto package)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_starttls_with_login(db_url, runtime_factory, smtp_handler, self_signed_cert, monkeypatch, caplog):
    cert, key = self_signed_cert
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = SmtpServer(
        free_port(),
        smtp_handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=password_authenticator(smtp_handler),
        auth_required=True,
    )
    server.start()
    try:
        env = smtp_env(
            server.port,
            CSBOT_SMTP_STARTTLS="true",
            CSBOT_SMTP_USER=SMTP_USER,
            CSBOT_SMTP_PASSWORD=SMTP_PASSWORD,
        )
        runtime = runtime_factory(db_url, **env)
        seed_accounts(runtime)
        message_id = queue_message(runtime, "OM-TLS00001")

        # The certificate is checked: not trusted yet, so the attempt fails.
        with caplog.at_level(logging.DEBUG):
            assert drain_once(runtime, now=T0) == 0
        row = load(runtime, message_id)
        assert row.status == QUEUED and "certificate verify failed" in row.last_error
        assert smtp_handler.received == [] and smtp_handler.logins == []

        # Trusted the way an operator would (SSL_CERT_FILE): delivered over TLS, logged in.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        with caplog.at_level(logging.DEBUG):
            assert drain_once(runtime, now=T0 + dt.timedelta(hours=2)) == 1
        assert smtp_handler.logins == [SMTP_USER]
        assert len(smtp_handler.received) == 1
        assert SMTP_PASSWORD not in caplog.text
    finally:
        server.stop()


def test_starttls_required_but_not_offered_is_not_sent_in_clear(
    sqlite_url, runtime_factory, smtp_server, smtp_handler
):
    runtime = runtime_factory(sqlite_url, **smtp_env(smtp_server.port, CSBOT_SMTP_STARTTLS="true"))
    seed_accounts(runtime)
    message_id = queue_message(runtime, "OM-TLS00002")
    assert drain_once(runtime, now=T0) == 0
    row = load(runtime, message_id)
    assert row.status == QUEUED and "STARTTLS" in row.last_error.upper()
    assert smtp_handler.received == []


# --- with the dialog's own queueing ----------------------------------------------------------------


def test_message_queued_by_the_account_services_is_delivered(seeded, smtp_handler):
    from bot.services.accounts import StoreAccountServices
    from dialogs.ports import ChatRef, Role

    with seeded.sessions.begin() as session:
        services = StoreAccountServices(session, seeded.hasher, T0)
        reference = services.queue_office_message(
            "P-1002", CASE_NUMBER, Role.PAYING, ChatRef("telegram", "424242"), PARENT_TEXT
        )
    assert drain_once(seeded, now=T0) == 1
    mail = smtp_handler.received[0].message
    assert mail["Message-ID"] == f"<{reference}@csbot.agency.example.org>"
    assert reference in mail["Subject"] and CASE_NUMBER in mail["Subject"]
    body = mail.get_content().replace("\r\n", "\n")
    assert "James Carter" in body and "paying parent" in body and "chat id 424242" in body
    assert PARENT_TEXT in body
    with seeded.sessions() as session:
        views = StoreAccountServices(session, seeded.hasher, T0).recent_office_messages("P-1002", 5)
    assert [(v.reference, v.status) for v in views] == [(reference, SENT)]


def test_csbot_serve_app_runs_the_outbox(sqlite_url, runtime_factory, smtp_server, smtp_handler):
    from starlette.testclient import TestClient

    from bot.web.app import create_app

    runtime = runtime_factory(sqlite_url, **smtp_env(smtp_server.port))
    seed_accounts(runtime)
    message_id = queue_message(runtime, "OM-SERVE001", at=dt.datetime.now(dt.UTC))
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").status_code == 200
        wait_for(lambda: load(runtime, message_id).status == SENT)
    assert smtp_handler.message_ids() == ["<OM-SERVE001@csbot.agency.example.org>"]
