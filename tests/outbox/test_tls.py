"""STARTTLS: the certificate is checked, and a server that does not offer it gets nothing."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from bot.outbox.queue import QUEUED
from bot.outbox.worker import drain_once
from tests.support.outbox import (
    SMTP_PASSWORD,
    SMTP_USER,
    T0,
    SmtpServer,
    free_port,
    load,
    password_authenticator,
    queue_message,
    seed_accounts,
    smtp_env,
)

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
