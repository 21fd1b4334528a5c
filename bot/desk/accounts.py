"""Staff user accounts for the desk, as `csbot staff-users` manages them: add, list, disable,
reset the password. Bad input is a RequestRefused naming what is wrong; a password is never
echoed in one."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.desk.passwords import hash_password
from bot.errors import RequestRefused
from bot.runtime import Runtime
from bot.store.models import Office, StaffUser, StaffUserOffice

USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class StaffUserRow:
    username: str
    offices: tuple[str, ...] | None  # None: every office
    supervisor: bool
    disabled_at: dt.datetime | None
    locked_until: dt.datetime | None
    created_at: dt.datetime


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise RequestRefused(
            f"bad username {username[:64]!r}: use 1 to 64 lower-case letters, digits, '.', '_', '-' or '@',"
            " starting with a letter or digit"
        )
    return username


def add_user(
    runtime: Runtime, username: str, password: str, *, offices: Sequence[str], all_offices: bool, supervisor: bool
) -> StaffUserRow:
    check_username(username)
    codes = sorted({code.strip().upper() for code in offices})
    if all_offices == bool(codes):
        raise RequestRefused("give either --office CODE (one or more) or --all-offices")
    password_hash = hash_password(password)  # checks the length first
    now = utcnow()
    with runtime.write() as session:
        known = set(session.scalars(select(Office.code)))
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise RequestRefused(
                f"unknown office code{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}"
                f" (known: {', '.join(sorted(known)) or 'none; import the extract first'})"
            )
        if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
            raise RequestRefused(f"a staff user named {username!r} already exists")
        user = StaffUser(
            username=username, password_hash=password_hash, all_offices=all_offices, supervisor=supervisor,
            disabled_at=None, failed_count=0, locked_until=None, session_version=1, created_at=now,
        )
        session.add(user)
        session.flush()
        session.add_all(StaffUserOffice(user_id=user.id, office_code=code) for code in codes)
    # A supervisor sees every office (the offices given are kept, should the role be taken away).
    return StaffUserRow(username, None if all_offices or supervisor else tuple(codes), supervisor, None, None, now)


def list_users(runtime: Runtime) -> list[StaffUserRow]:
    with runtime.sessions() as session:
        offices: dict[int, list[str]] = {}
        for link in session.scalars(select(StaffUserOffice).order_by(StaffUserOffice.office_code)):
            offices.setdefault(link.user_id, []).append(link.office_code)
        return [
            StaffUserRow(
                u.username, None if u.all_offices or u.supervisor else tuple(offices.get(u.id, ())), u.supervisor,
                u.disabled_at,
                u.locked_until, u.created_at,
            )
            for u in session.scalars(select(StaffUser).order_by(StaffUser.username))
        ]


def _find(session: Session, username: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise RequestRefused(f"no staff user named {username!r}")
    return user


def disable_user(runtime: Runtime, username: str) -> None:
    """Disabled at once: the user's open sessions stop working on their next request."""
    with runtime.write() as session:
        user = _find(session, username)
        if user.disabled_at is not None:
            raise RequestRefused(f"staff user {username!r} is already disabled")
        user.disabled_at = utcnow()
        user.session_version += 1


def reset_password(runtime: Runtime, username: str, password: str) -> None:
    """A new password; open sessions end, a sign-in lock is lifted. A disabled user stays
    disabled."""
    password_hash = hash_password(password)
    with runtime.write() as session:
        user = _find(session, username)
        user.password_hash = password_hash
        user.session_version += 1
        user.failed_count = 0
        user.locked_until = None
