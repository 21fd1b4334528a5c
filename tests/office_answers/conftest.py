"""Fixtures of the office-answer tests: the example extract, a mailed message, a real dovecot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.imap_server import DovecotServer, TestCertificates


def running_dovecot(tls: TestCertificates | None = None) -> Iterator[DovecotServer]:
    server = DovecotServer(tls)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def answering_runtime(db_url, runtime_factory, server: DovecotServer):
    """The example extract, reading replies from `server`."""
    from bot.importer.pipeline import import_extract
    from tests.support.databases import EXAMPLE_EXTRACT

    runtime = runtime_factory(db_url, CSBOT_REPLY_TO="replies@agency.example.org", **server.env())
    import_extract(runtime, EXAMPLE_EXTRACT)
    return runtime


@pytest.fixture
def dovecot():
    yield from running_dovecot()


@pytest.fixture
def answering(db_url, runtime_factory, dovecot):
    return answering_runtime(db_url, runtime_factory, dovecot)
