"""Staff passwords: Argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended
profile), a length rule, and a verification that costs the same whether or not the user exists."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.errors import RequestRefused

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # longer is not a password but a way to burn CPU

_hasher = PasswordHasher()  # Argon2id
# Verified against when the user is unknown, so that a sign-in for an unknown user does the
# same Argon2 work as one for a known user: response times do not tell which usernames exist.
_UNKNOWN_USER_HASH = _hasher.hash("no staff user has this password, it is only for timing")


def check_new_password(password: str) -> str:
    """The password as given, or RequestRefused naming the rule (never the password)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RequestRefused(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise RequestRefused(f"the password is too long: use at most {MAX_PASSWORD_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_new_password(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; with `stored_hash` None (no such user), does the same
    work against a throwaway hash and returns False."""
    candidate = password[:MAX_PASSWORD_LENGTH]
    try:
        matched = _hasher.verify(stored_hash or _UNKNOWN_USER_HASH, candidate)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """After a successful sign-in: stored with older parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False
