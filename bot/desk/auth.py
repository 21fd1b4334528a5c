"""Signing staff in: the password check with its lockout, and who a signed-in user is.

Five failed sign-ins in a row lock the user for 15 minutes. Every failure (unknown user, wrong
password, disabled, locked) is the same `None` to the caller, which shows one message; the
Argon2 work is done in every case, so timing does not tell them apart either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.desk.passwords import hash_password, needs_rehash, verify_password
from bot.store.models import StaffUser, StaffUserOffice

MAX_FAILED_SIGN_INS = 5
LOCK_DURATION = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Staff:
    """The signed-in user, as pages see them."""

    id: int
    username: str
    supervisor: bool
    offices: tuple[str, ...] | None  # None: every office
    session_version: int

    def may_see(self, office_code: str) -> bool:
        return self.offices is None or office_code in self.offices


@dataclass(frozen=True)
class SignIn:
    staff: Staff | None  # None: refused (for whatever reason: the caller does not say)
    username_known: bool
    locked_now: bool  # this failure locked the user


def staff_view(session: Session, user: StaffUser) -> Staff:
    offices: tuple[str, ...] | None = None  # supervisors see every office, whatever --office said
    if not user.all_offices and not user.supervisor:
        offices = tuple(
            session.scalars(
                select(StaffUserOffice.office_code)
                .where(StaffUserOffice.user_id == user.id)
                .order_by(StaffUserOffice.office_code)
            )
        )
    return Staff(user.id, user.username, user.supervisor, offices, user.session_version)


def sign_in(session: Session, username: str, password: str, now: dt.datetime) -> SignIn:
    """Check the password and keep the failure count, in the caller's transaction."""
    user = session.scalar(
        select(StaffUser).where(StaffUser.username == username.strip().lower()[:64]).with_for_update()
    )
    matched = verify_password(user.password_hash if user else None, password)
    if user is None:
        return SignIn(None, username_known=False, locked_now=False)
    locked = user.locked_until is not None and user.locked_until > now
    if matched and not locked and user.disabled_at is None:
        user.failed_count = 0
        user.locked_until = None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return SignIn(staff_view(session, user), username_known=True, locked_now=False)
    locked_now = False
    if not locked and user.disabled_at is None:
        user.failed_count += 1
        if user.failed_count >= MAX_FAILED_SIGN_INS:
            user.locked_until = now + LOCK_DURATION
            user.failed_count = 0
            locked_now = True
    return SignIn(None, username_known=True, locked_now=locked_now)


def current_staff(session: Session, user_id: object, version: object) -> Staff | None:
    """The user a session names, while still valid: not disabled, and the session not older
    than the last disable, password reset or sign-out (`session_version`)."""
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    user = session.get(StaffUser, user_id)
    if user is None or user.disabled_at is not None or user.session_version != version:
        return None
    return staff_view(session, user)


def end_sessions(session: Session, user_id: int) -> None:
    """Sign-out: every cookie issued to this user so far stops working."""
    user = session.get(StaffUser, user_id)
    if user is not None:
        user.session_version += 1
