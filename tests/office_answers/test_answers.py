"""Answers from the office, end to end: staff's CLI, reply mail read from a real dovecot, the
parent's notice (the reference only) and MESSAGES after verification."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.office_answers.reader import ReaderPolicy, ReplyReader, read_once
from bot.office_answers.record import record_answer
from bot.outbox.mail import OfficeMail, compose
from bot.store.models import OfficeAnswer, OfficeMessage, OutboundMessage
from tests.support.dialog_harness import AMINATA, MARIA, make_bot

REF, REF_FR = "OM-2F7KAB3C", "OM-9QX4MN7P"
OFFICE = "manhattan.office@example.org"
ANSWER = "We received the December payment on Dec 3; it reaches you within 2 business days."
T0 = dt.datetime(2026, 11, 20, 14, 3, tzinfo=dt.UTC)


def mailed(runtime, reference=REF, *, person="P-1001", case="CS10000001", office="MAN", channel="sms",
           sender="+12125550100") -> int:
    with runtime.sessions.begin() as session:
        row = OfficeMessage(reference=reference, person_id=person, case_number=case, office_code=office,
                            role="receiving", channel=channel, sender=sender, body="Where is my payment?",
                            status="mailed", attempts=1, next_attempt_at=T0, created_at=T0, sent_at=T0)
        session.add(row)
        session.flush()
        return row.id


def state(runtime, message_id):
    with runtime.sessions() as session:
        message = session.get(OfficeMessage, message_id)
        answers = session.scalars(select(OfficeAnswer).where(OfficeAnswer.message_id == message_id)).all()
        notices = session.scalars(select(OutboundMessage)).all()
        return message.status, [(a.body, a.source) for a in answers], notices


def reply_mail(body: str, *, sender=OFFICE, subject=f"Re: Parent message {REF} - case CS10000001",
               in_reply_to: str | None = f"<{REF}@csbot.agency.example.org>", references: str | None = None,
               html: str | None = None, attachment: bytes | None = None, message_id="<r1@example.org>") -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Manhattan Office <{sender}>"
    mail["To"] = "replies@agency.example.org"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = references
    if html is not None:
        mail.set_content(html, subtype="html")
    else:
        mail.set_content(body)
    if attachment is not None:
        mail.add_attachment(attachment, maintype="application", subtype="pdf", filename="letter.pdf")
    return bytes(mail)


QUOTED = f"{ANSWER}\n\nOn Fri, Nov 20, 2026 at 9:03 AM Child Support Bot <csbot@agency.example.org>\nwrote:\n> Reference: {REF}\n> Where is my payment?\n"

# --- staff's command --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["--text", "stdin"])
def test_cli_reply_records_the_answer_and_queues_one_notice_without_its_text(
    answering, capsys, monkeypatch, how
):
    message_id = mailed(answering)
    if how == "stdin":
        monkeypatch.setattr("sys.stdin", io.StringIO(ANSWER + "\n"))
        args = ["office-messages", "reply", REF]
    else:
        args = ["office-messages", "reply", REF, "--text", ANSWER]
    assert main(args) == 0
    assert f"answer to {REF} recorded" in capsys.readouterr().out
    status, answers, notices = state(answering, message_id)
    assert status == "answered" and answers == [(ANSWER, "staff")]
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.kind, notice.channel, notice.recipient) == ("notice", "sms", "+12125550100")
    assert notice.payload == {"text": f"Your child support office answered your message {REF}."
                                      " Send MESSAGES to read it."}
    assert "December" not in str(notice.payload)


def test_cli_reply_refuses_an_unknown_reference_and_an_empty_answer(answering, capsys):
    mailed(answering)
    assert main(["office-messages", "reply", "OM-NOSUCH22", "--text", "x"]) == 1
    assert main(["office-messages", "reply", REF, "--text", "  "]) == 1
    assert "empty" in capsys.readouterr().err
    with answering.sessions() as session:
        assert session.scalars(select(OutboundMessage)).all() == []


def test_telegram_notice_is_french_for_a_french_parent(answering):
    message_id = mailed(answering, REF_FR, person="P-1003", case="CS10000002", office="BKN",
                        channel="telegram", sender="4242")
    assert main(["office-messages", "reply", REF_FR, "--text", "Bonjour, c'est réglé."]) == 0
    _status, _answers, notices = state(answering, message_id)
    (notice,) = notices
    assert notice.payload["locale"] == "fr" and notice.payload["document"] is None
    assert notice.payload["text"].startswith("Votre bureau de pension alimentaire a répondu")
    assert notice.payload["choices"] == [["Réponses de votre bureau", "MESSAGES"]]
    assert "réglé" not in str(notice.payload)


# --- reply mail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"in_reply_to": f"<{REF}@csbot.agency.example.org>"},
    {"in_reply_to": None, "references": f"<other@x.org> <{REF}@csbot.agency.example.org>"},
    {"in_reply_to": None},  # the subject's reference
])
def test_a_reply_mail_from_the_office_is_recorded_without_the_quoted_original(answering, dovecot, headers):
    message_id = mailed(answering)
    dovecot.deliver(reply_mail(QUOTED, **headers))
    result = read_once(answering, ReaderPolicy())
    assert result.recorded == 1
    status, answers, notices = state(answering, message_id)
    assert status == "answered" and answers == [(ANSWER, "mail")]
    assert len(notices) == 1 and ANSWER not in str(notices[0].payload)
    assert "\\Seen" in dovecot.flags()[0] and "\\Flagged" not in dovecot.flags()[0]
    read_once(answering, ReaderPolicy())  # seen: never recorded twice
    assert len(state(answering, message_id)[1]) == 1


def test_a_reply_from_another_address_is_refused_flagged_and_logged(answering, dovecot, caplog):
    message_id = mailed(answering)
    dovecot.deliver(reply_mail(ANSWER, sender="someone@elsewhere.example"))
    with caplog.at_level(logging.INFO, logger="csbot.office_answers"):
        assert read_once(answering, ReaderPolicy()).flagged == 1
    assert state(answering, message_id)[:2] == ("mailed", [])
    assert "wrong sender" in caplog.text and ANSWER not in caplog.text
    assert "\\Flagged" in dovecot.flags()[0]


def test_an_unknown_reference_is_left_flagged_and_listed_as_unmatched(answering, dovecot, capsys):
    mailed(answering)
    dovecot.deliver(reply_mail(ANSWER, in_reply_to="<OM-ZZZZZZZZ@csbot.agency.example.org>",
                               subject="Re: Parent message OM-ZZZZZZZZ"))
    dovecot.deliver(reply_mail(ANSWER, in_reply_to=None, subject="Question", message_id="<r2@example.org>"))
    assert read_once(answering, ReaderPolicy()).flagged == 2
    flags = dovecot.flags()
    assert all("\\Flagged" in f and "\\Seen" not in f for f in flags)
    assert main(["office-messages", "unmatched"]) == 0
    out = capsys.readouterr().out
    assert "unknown reference" in out and "no reference" in out and "2 mails left flagged" in out
    assert read_once(answering, ReaderPolicy()).flagged == 0  # left alone afterwards


def test_html_only_mail_is_converted_and_attachments_are_not_forwarded(answering, dovecot, caplog):
    message_id = mailed(answering)
    html = (f"<html><head><style>p {{color: red}}</style></head><body><p>{ANSWER}</p>"
            "<blockquote>Where is my payment?</blockquote></body></html>")
    dovecot.deliver(reply_mail("", html=html, attachment=b"%PDF-1.4 letter"))
    with caplog.at_level(logging.INFO, logger="csbot.office_answers"):
        assert read_once(answering, ReaderPolicy()).recorded == 1
    assert state(answering, message_id)[1] == [(ANSWER, "mail")]
    assert "HTML converted to text" in caplog.text and "1 attachment(s) not forwarded" in caplog.text


def test_huge_mail_is_refused_unread(answering, dovecot, caplog):
    message_id = mailed(answering)
    dovecot.deliver(reply_mail(ANSWER, attachment=b"x" * 200_000))
    with caplog.at_level(logging.INFO, logger="csbot.office_answers"):
        assert read_once(answering, ReaderPolicy(max_mail_bytes=100_000)).flagged == 1
    assert state(answering, message_id)[:2] == ("mailed", [])
    assert "too large" in caplog.text


def test_the_reader_recovers_when_the_imap_server_comes_back(answering, dovecot):
    message_id = mailed(answering)

    async def scenario() -> None:
        reader = ReplyReader(answering, ReaderPolicy(poll_interval=0.2, backoff_cap=0.5, timeout=5))
        await reader.start()
        try:
            dovecot.stop()
            await asyncio.sleep(1.0)  # passes fail meanwhile
            dovecot.start()
            dovecot.deliver(reply_mail(QUOTED))
            deadline = time.monotonic() + 15
            while state(answering, message_id)[0] != "answered" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
        finally:
            await reader.stop()

    asyncio.run(scenario())
    assert state(answering, message_id)[:2] == ("answered", [(ANSWER, "mail")])


# --- the parent reads it ------------------------------------------------------------------------


def _answer(runtime, reference, text, at):
    with runtime.sessions.begin() as session:
        message = session.scalar(select(OfficeMessage).where(OfficeMessage.reference == reference))
        record_answer(session, message, text=text, source="staff", author="staff:test", now=at, sms_encoding="gsm7")


def test_messages_after_verification_shows_newest_first_and_marks_read(answering):
    first = mailed(answering)
    second = mailed(answering, "OM-33CCDD44")
    _answer(answering, REF, "Older answer.", T0 + dt.timedelta(hours=1))
    _answer(answering, "OM-33CCDD44", "Newer answer.", T0 + dt.timedelta(hours=2))
    bot = make_bot(answering)
    assert "Newer" not in bot.say("MESSAGES")  # verification first
    bot.say(MARIA["ssn"])
    shown = bot.say(MARIA["pin"])
    assert shown.index("Newer answer.") < shown.index("Older answer.")
    assert f"Answer to your message {REF}" in shown
    for message_id in (first, second):
        assert state(answering, message_id)[0] == "read"
    with answering.sessions() as session:
        assert all(a.read_at is not None for a in session.scalars(select(OfficeAnswer)))


def test_messages_in_french_and_nothing_to_show(answering):
    mailed(answering, REF_FR, person="P-1003", case="CS10000002", office="BKN")
    bot = make_bot(answering)
    bot.verify(AMINATA, sender="+12125550199")
    bot.say("FRANCAIS", sender="+12125550199")
    assert "pas encore répondu" in bot.say("MESSAGES", sender="+12125550199")
    _answer(answering, REF_FR, "C'est réglé.", T0)
    shown = bot.say("MESSAGES", sender="+12125550199")
    assert f"Réponse à votre message {REF_FR}" in shown and "C'est réglé." in shown


# --- the office mail --------------------------------------------------------------------------------


def test_the_office_mail_carries_reply_to_and_says_how_answers_reach_the_parent():
    mail = OfficeMail(reference=REF, case_number="CS10000001", office_name="Manhattan", office_email=OFFICE,
                      person_id="P-1001", first_name="Maria", last_name="Lopez", role="receiving", channel="sms",
                      sender="+12125550100", body="Where is my payment?", created_at=T0)
    message = compose(mail, "csbot@agency.example.org", "replies@agency.example.org")
    assert message["Reply-To"] == "replies@agency.example.org"
    body = message.get_content()
    assert "reply to this email" in body and "do not reach" not in body
    assert "Reply-To" not in compose(mail, "csbot@agency.example.org")
