"""Outbox test helpers: a real SMTP server (aiosmtpd on 127.0.0.1), the store seeded with an
office, two parents and a case, office messages queued directly, and `csbot worker` processes.

Nothing here mocks aiosmtplib: mail goes over TCP, and "SMTP down" means nothing listens on
the port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.hashing import KeyedHasher
from bot.outbox.queue import QUEUED
from bot.runtime import Runtime
from bot.store.models import Case, Office, OfficeMessage, Person
from tests.support.databases import TEST_SECRET_KEY
from tests.support.serve_process import csbot_command, csbot_env

REPO = Path(__file__).resolve().parent.parent.parent
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
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class CollectingHandler:
    received: list[Received] = field(default_factory=list)
    refuse_rcpt: str | None = None  # e.g. "550 5.1.1 no such mailbox"
    delay: float = 0.0  # seconds to hold DATA before answering
    on_data: Callable[[], object] | None = None  # callable run after a message is stored, before the 250 reply
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
            self.on_data()
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


def worker_env(db_url: str, port: int, **extra: str) -> dict[str, str]:
    return csbot_env(db_url, **smtp_env(port), **extra)


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*csbot_command(), "worker"],
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
