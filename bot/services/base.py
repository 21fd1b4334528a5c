"""What every store-backed service shares: one session, the hasher, and the moment of the
message being handled. The services never commit: the engine's transaction does."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.hashing import UNKNOWN_PERSON_ID, KeyedHasher


class SessionServices:
    def __init__(self, session: Session, hasher: KeyedHasher, now: dt.datetime) -> None:
        self._session = session
        self._hasher = hasher
        self._now = now
        # A PIN hash no real person can have: the unknown-SSN path compares against it, so
        # both paths do the same hashing and comparing work.
        self._decoy_pin_hash = hasher.pin(UNKNOWN_PERSON_ID, "decoy")


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives back naive UTC datetimes; PostgreSQL aware ones."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
