"""What a running command needs, built once: settings, database, hasher, conversation engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.hashing import KeyedHasher
from bot.store.database import check_connection, make_engine, make_sessionmaker, upgrade


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    sessions: sessionmaker[Session]
    hasher: KeyedHasher

    def dispose(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()


def open_runtime(settings: Settings, *, migrate: bool = True, pool_size: int = 10) -> Runtime:
    """Connect (and with `migrate`, bring an empty or older database up to date)."""
    key = settings.require_secret_key()
    db = make_engine(settings.database_url, pool_size=pool_size)
    if migrate:
        upgrade(db)
    else:
        check_connection(db)
    return Runtime(settings=settings, db=db, sessions=make_sessionmaker(db), hasher=KeyedHasher(key))
