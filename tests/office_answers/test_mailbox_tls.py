"""The reply mailbox over STARTTLS against a real dovecot with a certificate of the test's own
authority: the reader verifies the certificate before it logs in, and refuses (without sending
the password) a server whose certificate it cannot trust."""

from __future__ import annotations

import logging
import ssl

import pytest

from bot.office_answers.reader import ReaderPolicy, read_once
from tests.office_answers.conftest import answering_runtime, running_dovecot
from tests.office_answers.test_answers import ANSWER, mailed, reply_mail, state
from tests.support.imap_server import PASSWORD, TestCertificates


@pytest.fixture
def tls_dovecot(tmp_path):
    yield from running_dovecot(TestCertificates(tmp_path))


@pytest.fixture
def tls_answering(db_url, runtime_factory, tls_dovecot):
    return answering_runtime(db_url, runtime_factory, tls_dovecot)


def test_the_reader_logs_in_only_after_starttls_with_a_trusted_certificate(tls_answering, tls_dovecot,
                                                                             monkeypatch):
    # ssl.create_default_context() trusts what SSL_CERT_FILE names: here, the test's authority.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_dovecot.tls.authority))
    message_id = mailed(tls_answering)
    tls_dovecot.deliver(reply_mail(ANSWER))
    logins_before = len(tls_dovecot.logins())
    assert read_once(tls_answering, ReaderPolicy()).recorded == 1
    assert state(tls_answering, message_id)[:2] == ("answered", [(ANSWER, "mail")])
    readers_login = tls_dovecot.logins()[logins_before:]
    assert len(readers_login) == 1 and ", TLS," in readers_login[0], readers_login


def test_an_untrusted_certificate_stops_the_reader_before_it_sends_the_password(
    tls_answering, tls_dovecot, tmp_path, monkeypatch, caplog
):
    (tmp_path / "other").mkdir()
    stranger = TestCertificates(tmp_path / "other", name="some other authority")
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger.authority))
    message_id = mailed(tls_answering)
    tls_dovecot.deliver(reply_mail(ANSWER))
    logins_before = len(tls_dovecot.logins())
    with caplog.at_level(logging.DEBUG), pytest.raises(ssl.SSLCertVerificationError):
        read_once(tls_answering, ReaderPolicy())
    assert tls_dovecot.logins()[logins_before:] == []  # no login was attempted
    assert state(tls_answering, message_id)[:2] == ("mailed", [])
    assert PASSWORD not in caplog.text
