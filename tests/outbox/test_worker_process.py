"""`csbot worker` as a real process: killed mid-delivery, SMTP login, no SMTP configured."""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest

from bot.outbox.queue import MAILED, QUEUED, SENDING
from bot.outbox.worker import drain_once
from tests.support.databases import TEST_SECRET_KEY
from tests.support.outbox import (
    REPO,
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    free_port,
    load,
    password_authenticator,
    queue_message,
    seed_accounts,
    smtp_env,
    start_worker,
    wait_for,
    worker_env,
)
from tests.support.serve_process import run_csbot

# --- crash between sending and marking -----------------------------------------------------------


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
    assert (row.status, row.attempts) == (MAILED, 2)


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
            wait_for(lambda: load(runtime, first).status == MAILED)
            second = queue_message(runtime, "OM-AUTH0002", at=dt.datetime.now(dt.UTC))
            wait_for(lambda: load(runtime, second).status == MAILED)  # picked up by polling
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
    result = run_csbot(env, "worker", timeout=60, cwd=REPO)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "CSBOT_SMTP_HOST is not set" in result.stderr and "1 waiting" in result.stderr
