"""Waiting for the outbound queue: Telegram replies are sent by a background sender after the
webhook's 200, so a test that reads the fake Bot API's calls first waits for the queue to
have nothing queued or sending (each message is marked right after the API answered it, and
the fake records a call before answering, so every call is recorded by then)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

_WAITING = "SELECT count(*) FROM outbound_messages WHERE status IN ('queued', 'sending')"


def waiting_count(db: str | Path | Engine) -> int:
    if isinstance(db, Engine):
        with db.connect() as conn:
            return int(conn.execute(text(_WAITING)).scalar_one())
    path = str(db)
    if path.startswith("sqlite:///"):
        path = path[len("sqlite:///"):]
    elif "://" in path:
        from bot.store.database import normalise_url

        engine = create_engine(normalise_url(path))
        try:
            return waiting_count(engine)
        finally:
            engine.dispose()
    with sqlite3.connect(path, timeout=10) as conn:
        return int(conn.execute(_WAITING).fetchone()[0])


def wait_for_replies(db: str | Path | Engine, timeout: float = 20.0) -> None:
    """Until the outbound queue is empty of queued and sending messages (AssertionError after
    `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            left = waiting_count(db)
        except sqlite3.OperationalError:  # locked for a moment by the service
            left = -1
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the outbound queue still holds {left} message(s) after {timeout} s")
        time.sleep(0.02)


def sender_for(telegram_component):
    """The outbound sender that delivers what `telegram_component`'s webhook queues (for tests
    that run the Telegram component alone, without `build_components`)."""
    from bot.outbound.worker import OutboundComponent

    return OutboundComponent(telegram_component.runtime, telegram_component.doorbell)
