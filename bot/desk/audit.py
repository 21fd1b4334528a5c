"""Each staff action on the desk is an audit record: channel "desk", the staff user as the
chat (`sender`), the action as `record_kind`, the person concerned when there is one, and what
was touched in `detail` (a reference, request ids, a searched id), never account data."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy.orm import Session

from bot.store.models import AuditRecord

CHANNEL = "desk"
NO_PERSON = "-"


class Action(enum.StrEnum):
    SIGN_IN = "desk sign-in"
    SIGN_IN_REFUSED = "desk sign-in refused"
    SIGN_IN_LOCKED = "desk sign-in locked"
    SIGN_OUT = "desk sign-out"
    ANSWER = "desk answer"
    MARK_MAILED = "desk mark mailed"
    UNLOCK = "desk unlock"
    AUDIT_SEARCH = "desk audit search"
    CSV_EXPORT = "desk csv export"


def record(
    session: Session, username: str, action: Action, now: dt.datetime, *, person_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Add the record to the caller's transaction."""
    session.add(
        AuditRecord(
            person_id=(person_id or NO_PERSON)[:32], channel=CHANNEL, sender=username[:64], record_kind=action.value,
            at=now, detail=detail[:200] if detail else None,
        )
    )
