"""The whole loop in `csbot worker` processes: the office mail goes out through SMTP with
Reply-To the reply mailbox; the office answers by mail (quoting the parent); a restarted worker
reads the answer from dovecot, records it, and the parent's phone gets a notice through the
Twilio stand-in, with the reference and without the answer or a secret."""

from __future__ import annotations

import signal
from email.message import EmailMessage

from bot.store.models import OfficeAnswer, OfficeMessage
from tests.support.fake_twilio import FakeTwilio
from tests.support.imap_server import PASSWORD as IMAP_PASSWORD
from tests.support.outbox import (
    OFFICE_EMAIL,
    PARENT_TEXT,
    SMTP_PASSWORD,
    CollectingHandler,
    SmtpServer,
    free_port,
    queue_message,
    seed_accounts,
    smtp_env,
    start_worker,
    wait_for,
)
from tests.support.serve_process import csbot_env

SID, TOKEN, FROM = "AC" + "3" * 32, "twilio-token-worker-loop", "+15005550006"
REPLY_TO = "replies@agency.example.org"
ANSWER = "Your December payment was sent on Dec 3 and should arrive within two business days."
PARENT_PHONE = "+12125550111"


def office_reply(original: EmailMessage) -> bytes:
    reply = EmailMessage()
    reply["From"] = f"Manhattan Office <{OFFICE_EMAIL}>"
    reply["To"] = original["Reply-To"]
    reply["Subject"] = "Re: " + original["Subject"]
    reply["Message-ID"] = "<office-answer-1@example.org>"
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = original["Message-ID"]
    quoted = "\n".join("> " + line for line in original.get_content().splitlines())
    reply.set_content(f"{ANSWER}\n\nOn Monday, csbot wrote:\n{quoted}\n")
    return reply.as_bytes()


def stop(worker) -> tuple[int, str]:
    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=30)
    return worker.returncode, err


def test_mail_out_answer_in_notice_to_the_phone_across_worker_restarts(db_url, runtime_factory, dovecot):
    runtime = runtime_factory(db_url)
    seed_accounts(runtime)
    message_id = queue_message(runtime, "OM-LOOP0001", sender=PARENT_PHONE)
    smtp = CollectingHandler()
    server = SmtpServer(free_port(), smtp)
    server.start()
    try:
        with FakeTwilio(SID, TOKEN) as twilio:
            env = csbot_env(
                db_url, **smtp_env(server.port), **dovecot.env(), CSBOT_REPLY_TO=REPLY_TO,
                TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_FROM_NUMBER=FROM,
                TWILIO_API_BASE_URL=twilio.base_url, CSBOT_PUBLIC_URL="https://bot.example.org",
            )
            worker = start_worker(env)
            try:
                wait_for(lambda: len(smtp.received) == 1)
            finally:
                code, first_log = stop(worker)
            assert code == 0, first_log
            office_mail = smtp.received[0].message
            assert office_mail["Reply-To"] == REPLY_TO and PARENT_TEXT in office_mail.get_content().replace("\r\n", "\n")

            dovecot.deliver(office_reply(office_mail))
            worker = start_worker(env)  # reads the mailbox as it starts
            try:
                wait_for(lambda: len(twilio.messages) == 1)
            finally:
                code, second_log = stop(worker)
            assert code == 0, second_log
    finally:
        server.stop()

    (notice,) = twilio.messages
    assert notice["To"] == PARENT_PHONE and "OM-LOOP0001" in notice["Body"] and "MESSAGES" in notice["Body"]
    assert "December" not in notice["Body"] and "Dec 3" not in notice["Body"]
    with runtime.sessions() as session:
        assert session.get(OfficeMessage, message_id).status == "answered"
        (answer,) = session.query(OfficeAnswer).all()
        assert answer.body == ANSWER and answer.source == "mail"  # the quoted parent text dropped
    assert any("\\Seen" in flags for flags in dovecot.flags())
    for log in (first_log, second_log):
        for secret in (IMAP_PASSWORD, SMTP_PASSWORD, TOKEN, ANSWER, PARENT_TEXT):
            assert secret not in log
