"""Fixtures of the outbox tests: a running SMTP server and a seeded store pointing at it."""

from __future__ import annotations

import pytest

from tests.support.outbox import CollectingHandler, SmtpServer, free_port, seed_accounts, smtp_env


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


@pytest.fixture
def seeded(db_url, runtime_factory, smtp_server):
    """A migrated database with an office, two parents and a case; SMTP pointing at the server."""
    runtime = runtime_factory(db_url, **smtp_env(smtp_server.port))
    seed_accounts(runtime)
    return runtime
