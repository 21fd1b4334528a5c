"""The office mail as a real SMTP server receives it: every field, no secret, refusals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from bot.outbox.queue import FAILED, MAILED, QUEUED
from bot.outbox.worker import drain_once
from bot.store.models import OfficeMessage, Person
from tests.support.databases import TEST_SECRET_KEY
from tests.support.outbox import (
    CASE_NUMBER,
    OFFICE_EMAIL,
    PARENT_TEXT,
    PIN,
    SSN,
    T0,
    load,
    queue_message,
)

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
    assert (row.status, row.attempts, row.sent_at, row.claimed_until) == (MAILED, 1, T0, None)


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
    assert [(v.reference, v.status) for v in views] == [(reference, MAILED)]
