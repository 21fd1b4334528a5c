"""The one clock of the runtime: aware UTC. Whatever needs time takes a `clock` (defaulting
to this), so tests can move it."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
