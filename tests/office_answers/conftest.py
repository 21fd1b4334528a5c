"""Fixtures of the office-answer tests: the example extract, a mailed message, a real dovecot."""

from __future__ import annotations

import pytest

from tests.support.imap_server import DovecotServer


@pytest.fixture
def dovecot():
    server = DovecotServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def answering(db_url, runtime_factory, dovecot):
    """The example extract, reading replies from the test's dovecot."""
    from bot.importer.pipeline import import_extract
    from tests.support.databases import EXAMPLE_EXTRACT

    runtime = runtime_factory(db_url, CSBOT_REPLY_TO="replies@agency.example.org", **dovecot.env())
    import_extract(runtime, EXAMPLE_EXTRACT)
    return runtime
