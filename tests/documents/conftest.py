"""Fixtures of the document tests: GET /d/{token} in process, with a clock the test moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.documents.route import document_component
from bot.runtime import Runtime
from tests.support.dialog_harness import Clock

LINK_TIME = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)  # the example extract's as-of date


@pytest.fixture
def link_client(loaded_runtime: Runtime) -> Iterator[tuple[TestClient, Clock]]:
    clock = Clock(LINK_TIME)
    app = Starlette(routes=document_component(loaded_runtime, clock=clock).routes)
    with TestClient(app) as client:
        yield client, clock
