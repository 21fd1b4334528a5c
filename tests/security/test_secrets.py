"""Secrets never leak: a full conversation on both channels (verification with every shape of
SSN, wrong shapes and a wrong PIN, every answer, documents, an office message with an SSN
refused in it, the PIN re-mail request, logout) through a running `csbot serve` logging at
DEBUG, with office mail delivered over SMTP to a local server. Then:

- the server log holds no SSN (with or without dashes or spaces), PIN, Twilio token,
  Telegram bot token or webhook secret, or secret key;
- the database holds none of them in any column of any table (every value as text), and
  the SQLite file's bytes do not contain them as ASCII;
- the office mail (as received by SMTP, and as composed by bot/mail.py from the stored
  message) holds none;
- no reply (SMS TwiML, Telegram sendMessage) and no document (each PDF, from an SMS link or
  a Telegram upload, read with pypdf) holds an SSN or PIN;
- on Telegram every message that carried an SSN or PIN was deleted from the chat.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import MetaData, select

from bot.outbox.mail import OfficeMail, compose
from bot.store.models import Office, OfficeMessage, Person
from tests.support.dialog_harness import AMINATA, CLAUDE, JAMES, MARIA, UNKNOWN_SSN
from tests.support.fake_bot_api import FakeBotApi
from tests.support.live_service import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_TOKEN,
    Sms,
    Telegram,
    both_channels_env,
    db_engine,
    load_example,
)
from tests.support.serve_process import TEST_SECRET_KEY, free_port, start_serve

pytestmark = pytest.mark.slow

PEOPLE = [MARIA, JAMES, AMINATA, CLAUDE]
SMTP_FROM = "csbot@agency.example"


def ssn_forms(ssn: str) -> list[str]:
    digits = ssn.replace("-", "")
    return [ssn, digits, f"{digits[:3]} {digits[3:5]} {digits[5:]}"]


SSNS = [form for person in PEOPLE for form in ssn_forms(person["ssn"])] + ssn_forms(UNKNOWN_SSN)
PINS = [person["pin"] for person in PEOPLE]
TOKENS = [TWILIO_TOKEN, TELEGRAM_TOKEN, TELEGRAM_TOKEN.split(":", 1)[1], TELEGRAM_SECRET, TEST_SECRET_KEY]
EVERY_SECRET = SSNS + PINS + TOKENS


def found(text: str, secrets: list[str]) -> list[str]:
    """The secrets that occur in `text` (PINs only as whole numbers, not inside longer ones)."""
    hits = []
    for secret in secrets:
        if secret.isdigit() and len(secret) == 5:
            if re.search(rf"(?<!\d){secret}(?!\d)", text):
                hits.append(secret)
        elif secret in text:
            hits.append(secret)
    return hits


# --- a local SMTP server ------------------------------------------------------------------------


@dataclass
class MailCollector:
    received: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(envelope.original_content)
        return "250 OK"


# --- the conversation ---------------------------------------------------------------------------


SMS_MARIA = [
    "HELP", "MENU", "12345678", MARIA["ssn"], "4821", "00000",  # wrong shapes, then a wrong PIN
    ssn_forms(MARIA["ssn"])[1], MARIA["pin"], "BALANCE", "PAYMENTS", "MORE", "PDF",
    "DISBURSEMENTS", "NOTICE", "STATEMENT", "OFFICE",
    f"my ssn is {MARIA['ssn']} and my pin is {MARIA['pin']}",  # refused: never stored or mailed
    "Please call me about my last payment.", "SEND", ssn_forms(MARIA["ssn"])[2], MARIA["pin"],
    "LOGOUT", "PIN", ssn_forms(MARIA["ssn"])[2], "1988-03-14", "10027",
    "BALANCE", UNKNOWN_SSN, "12345",  # an unknown SSN
]
SMS_AMINATA = [
    "FRANCAIS", "SOLDE", AMINATA["ssn"], AMINATA["pin"], "PAIEMENTS", "COUPON", "AVIS", "RELEVE",
    "BUREAU", "1", "Bonjour, rappelez-moi s'il vous plaît.", "ENVOYER", "DECONNEXION",
]
TELEGRAM_JAMES = ["/start", JAMES["ssn"], JAMES["pin"], "/balance", "COUPON", "STATEMENT", "PAYMENTS", "PDF", "/logout"]
TELEGRAM_CLAUDE = [
    "/start", ssn_forms(CLAUDE["ssn"])[1], CLAUDE["pin"], "SOLDE", "RELEVE", "BUREAU",
    f"mon SSN {ssn_forms(CLAUDE['ssn'])[1]}", "Merci de me rappeler.", "ENVOYER", "PIN",
    CLAUDE["ssn"], "1983-01-19", "11218",
]


@dataclass
class Artifacts:
    log: str
    database_url: str
    sqlite_path: Path
    replies: list[str]
    documents: list[bytes]
    mails: list[bytes]
    deleted: int
    secret_messages: int


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    folder = tmp_path_factory.mktemp("secrets")
    sqlite_path = folder / "csbot.db"
    url = f"sqlite:///{sqlite_path}"
    collector = MailCollector()
    smtp = Controller(collector, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with FakeBotApi(TELEGRAM_TOKEN) as api:
            env = both_channels_env(
                url, api, CSBOT_LOG_LEVEL="DEBUG", CSBOT_SMTP_HOST="127.0.0.1",
                CSBOT_SMTP_PORT=str(smtp.port), CSBOT_SMTP_FROM=SMTP_FROM,
            )
            load_example(env)
            server = start_serve(env)
            try:
                sms, telegram = Sms(server), Telegram(server, api)
                replies: list[str] = []
                for sender, script in (("+12125554001", SMS_MARIA), ("+17185554002", SMS_AMINATA)):
                    for text in script:
                        messages = sms.send(sender, text)
                        assert messages, text
                        replies.extend(messages)
                for chat_id, language, script in ((554003, "en", TELEGRAM_JAMES), (554004, "fr", TELEGRAM_CLAUDE)):
                    for text in script:
                        answer = telegram.send(chat_id, text, language)
                        assert answer, text
                        replies.extend(answer)
                documents = telegram.documents()
                links = re.findall(re.escape(server.public_url) + r"(/d/[A-Za-z0-9_-]+)", "\n".join(replies))
                assert len(links) >= 4 and len(documents) >= 3, (len(links), len(documents))
                for path in links:
                    response = httpx.get(server.url + path, timeout=30)
                    assert response.status_code == 200
                    documents.append(response.content)
                deadline = time.monotonic() + 60
                while len(collector.received) < 3 and time.monotonic() < deadline:
                    time.sleep(0.2)
                secret_messages = sum(
                    1 for _chat, script in ((0, TELEGRAM_JAMES), (1, TELEGRAM_CLAUDE)) for text in script
                    if any(found(text, SSNS + PINS))
                )
                deleted = len(api.calls_to("deleteMessage"))
                sms.close()
                telegram.close()
            finally:
                server.stop()
                log = server.log_text()  # read after the stop: everything flushed
                server.log_path.unlink()
    finally:
        smtp.stop()
    with collector.lock:
        mails = list(collector.received)
    return Artifacts(log, url, sqlite_path, replies, documents, mails, deleted, secret_messages)


def test_the_conversation_really_ran(artifacts: Artifacts) -> None:
    joined = "\n".join(artifacts.replies)
    for marker in ("Maria", "$1,475.75", "Aminata", "James", "Claude", "Your reference is OM-"):
        assert marker in joined, marker
    assert " DEBUG " in artifacts.log  # the log really was at DEBUG
    assert len(artifacts.mails) == 3  # Maria's, Aminata's and Claude's office messages


def test_no_secret_in_the_server_log(artifacts: Artifacts) -> None:
    # Process ids and port numbers are not secrets, but a PIN-like one would be a false hit.
    log = re.sub(r"\[\d+\]|:\d{2,5}\b", "", artifacts.log)
    assert found(log, EVERY_SECRET) == []
    assert "Traceback" not in artifacts.log


def test_no_secret_anywhere_in_the_database(artifacts: Artifacts) -> None:
    db = db_engine(artifacts.database_url)
    try:
        metadata = MetaData()
        metadata.reflect(db)
        assert {"people", "conversations", "office_messages", "audit_records", "pin_requests"} <= set(metadata.tables)
        values = []
        with db.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    for value in row:
                        if isinstance(value, (bytes, bytearray, memoryview)):
                            raw = bytes(value)
                            values += [raw.hex(), raw.decode("latin-1")]
                        else:
                            values.append(str(value))
        dump = "\n".join(values)
        assert "Please call me about my last payment." in dump  # the dump really holds the data
        assert found(dump, EVERY_SECRET) == []
    finally:
        db.dispose()
    # The file itself, including pages SQLite freed: no secret as ASCII bytes.
    for path in [artifacts.sqlite_path, *artifacts.sqlite_path.parent.glob("csbot.db-*")]:
        data = path.read_bytes().decode("latin-1")
        assert found(data, EVERY_SECRET) == [], path.name


def test_no_secret_in_office_mail_received_or_composed(artifacts: Artifacts) -> None:
    for raw in artifacts.mails:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "----- message as typed by the parent -----" in text
        assert found(raw.decode("latin-1") + text, EVERY_SECRET) == []
    # And composed directly from every stored message (what a resend would send).
    db = db_engine(artifacts.database_url)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                select(OfficeMessage, Office.name, Office.email, Person.first_name, Person.last_name)
                .join(Office, Office.code == OfficeMessage.office_code)
                .join(Person, Person.id == OfficeMessage.person_id)
            ).all()
    finally:
        db.dispose()
    assert len(rows) == 3
    for row in rows:
        mail = OfficeMail(
            reference=row.reference, case_number=row.case_number, office_name=row.name,
            office_email=row.email, person_id=row.person_id, first_name=row.first_name,
            last_name=row.last_name, role=row.role, channel=row.channel, sender=row.sender,
            body=row.body, created_at=row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC),
        )
        composed = compose(mail, SMTP_FROM)
        assert found(composed.as_string() + composed.get_content(), EVERY_SECRET) == []


def test_no_ssn_or_pin_in_any_reply(artifacts: Artifacts) -> None:
    assert found("\n".join(artifacts.replies), EVERY_SECRET) == []


def test_no_ssn_or_pin_in_any_document(artifacts: Artifacts) -> None:
    texts = []
    for pdf in artifacts.documents:
        assert pdf.startswith(b"%PDF")
        text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
        assert text.strip()
        texts.append(text)
    joined = "\n".join(texts)
    assert "Maria" in joined or "James" in joined  # really the parents' documents
    assert found(joined, EVERY_SECRET) == []
    assert found(b"\n".join(artifacts.documents).decode("latin-1"), SSNS + TOKENS) == []


def test_telegram_deletes_every_message_with_a_secret(artifacts: Artifacts) -> None:
    assert artifacts.secret_messages >= 5
    assert artifacts.deleted >= artifacts.secret_messages
