"""What a running command needs, built once: settings, database, hasher, conversation engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.hashing import KeyedHasher
from bot.store.database import check_connection, make_engine, make_sessionmaker, upgrade
from bot.store.dialect import FairLock, NoLock, one_writer_at_a_time


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    sessions: sessionmaker[Session]
    hasher: KeyedHasher
    # Every write transaction of this process takes it first (see one_writer_at_a_time).
    writer: FairLock | NoLock = field(default_factory=NoLock)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, after this process's other writers: commits on success."""
        with self.writer, self.sessions.begin() as session:
            yield session

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
    return Runtime(
        settings=settings, db=db, sessions=make_sessionmaker(db), hasher=KeyedHasher(key),
        writer=one_writer_at_a_time(db),
    )
