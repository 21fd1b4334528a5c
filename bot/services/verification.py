"""Verification against the store: SSN then PIN, the account lock after 5 wrong PINs in a row,
and the chat throttle after 10 failures in an hour. An unknown SSN, a wrong PIN and a locked
account take the same work and give the same answer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, select

from bot.hashing import UNKNOWN_PERSON_ID, KeyedHasher
from bot.services.base import SessionServices, aware
from bot.store.models import AccountLock, Person, VerificationFailure
from dialogs.ports import ChatRef, VerifyResult, VerifyStatus

MAX_CONSECUTIVE_PIN_FAILURES = 5
ACCOUNT_LOCK = dt.timedelta(minutes=30)
CHAT_FAILURE_LIMIT = 10
CHAT_FAILURE_WINDOW = dt.timedelta(hours=1)
CHAT_THROTTLE = dt.timedelta(hours=1)
# The lock lookup for an unknown SSN (the same query as for a known one): longer than any
# person id (1-32 characters), so it matches no row, and plain text, which PostgreSQL accepts
# where it refuses UNKNOWN_PERSON_ID's NUL.
_NO_LOCK_ROW = "?" * 33


class VerificationServices(SessionServices):
    def ssn_token(self, ssn_digits: str) -> str:
        return self._hasher.ssn(ssn_digits).hex()

    def chat_throttled(self, chat: ChatRef) -> bool:
        """Refused for an hour after the failure that made 10 within an hour."""
        s = self._session
        chat_filter = and_(
            VerificationFailure.channel == chat.channel, VerificationFailure.sender == chat.sender
        )
        latest = s.scalar(select(func.max(VerificationFailure.at)).where(chat_filter))
        if latest is None:
            return False
        latest = aware(latest)
        if latest <= self._now - CHAT_THROTTLE:
            return False
        recent = s.scalar(
            select(func.count())
            .select_from(VerificationFailure)
            .where(chat_filter, VerificationFailure.at > latest - CHAT_FAILURE_WINDOW)
        )
        return (recent or 0) >= CHAT_FAILURE_LIMIT

    def verify(self, chat: ChatRef, ssn_token: str, pin: str) -> VerifyResult:
        try:
            ssn_hash = bytes.fromhex(ssn_token)
        except ValueError:
            ssn_hash = b""
        # FOR UPDATE: verifications of one person take turns, so concurrent guesses from many
        # chats cannot all pass the lock check or lose each other's failure counts.
        person = self._session.scalar(
            select(Person).where(Person.ssn_hash == ssn_hash).with_for_update()
        )
        return self._check_pin(chat, person, pin)

    def verify_pin(self, chat: ChatRef, person_id: str, pin: str) -> VerifyResult:
        person = self._session.get(Person, person_id, with_for_update=True)
        return self._check_pin(chat, person, pin)

    def is_own_pin(self, person_id: str, digits: str) -> bool:
        person = self._session.get(Person, person_id)
        return person is not None and KeyedHasher.same(self._hasher.pin(person_id, digits), person.pin_hash)

    def _check_pin(self, chat: ChatRef, person: Person | None, pin: str) -> VerifyResult:
        person_id = person.id if person is not None else UNKNOWN_PERSON_ID
        candidate = self._hasher.pin(person_id, pin)
        expected = person.pin_hash if person is not None else self._decoy_pin_hash
        matches = KeyedHasher.same(candidate, expected)
        lock = self._session.get(AccountLock, person.id if person is not None else _NO_LOCK_ROW)
        locked = lock is not None and lock.locked_until is not None and aware(lock.locked_until) > self._now
        if person is not None and matches and not locked:
            if lock is not None:
                lock.consecutive_failures = 0
                lock.locked_until = None
            return VerifyResult(VerifyStatus.OK, person.id)
        self._session.add(VerificationFailure(channel=chat.channel, sender=chat.sender, at=self._now))
        if person is not None and not locked:
            if lock is None:
                lock = AccountLock(person_id=person.id, consecutive_failures=0)
                self._session.add(lock)
            elif lock.locked_until is not None:
                # A lock that has run out: a fresh count. (While locked, the count stays at what
                # locked it, so staff see "5 wrong PINs"; tries during the lock are not counted.)
                lock.consecutive_failures = 0
                lock.locked_until = None
            lock.consecutive_failures += 1
            if lock.consecutive_failures >= MAX_CONSECUTIVE_PIN_FAILURES:
                lock.locked_until = self._now + ACCOUNT_LOCK
        return VerifyResult(VerifyStatus.FAILED)
