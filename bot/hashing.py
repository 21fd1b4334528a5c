"""Keyed hashes of SSNs and PINs (HMAC-SHA256 with CSBOT_SECRET_KEY).

The key never lives in the database, so a copied database alone cannot be searched for a
known SSN, nor its 100,000 possible PINs tried. The PIN hash also binds the person id, so two
people with the same PIN do not share a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_NON_DIGITS = re.compile(r"[\s-]")
# ASCII digits only: \d would also take full-width or Arabic-Indic digits, which the keyed
# hashes (and the agency's records) do not use.
SSN_SHAPE = re.compile(r"^[0-9]{9}$")
PIN_SHAPE = re.compile(r"^[0-9]{5}$")

# Stands in for an unknown person so the unknown-SSN path does the same hashing work.
UNKNOWN_PERSON_ID = "\x00unknown"


def normalise_ssn(text: str) -> str | None:
    """Digits of an SSN written with optional dashes and spaces, or None if not 9 digits."""
    digits = _NON_DIGITS.sub("", text.strip())
    return digits if SSN_SHAPE.match(digits) else None


class KeyedHasher:
    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("an empty key would make the hashes unkeyed")
        self._ssn_key = hmac.new(key, b"csbot/ssn/v1", hashlib.sha256).digest()
        self._pin_key = hmac.new(key, b"csbot/pin/v1", hashlib.sha256).digest()

    def ssn(self, digits: str) -> bytes:
        return hmac.new(self._ssn_key, digits.encode("ascii"), hashlib.sha256).digest()

    def pin(self, person_id: str, pin: str) -> bytes:
        message = person_id.encode("utf-8") + b"\x00" + pin.encode("ascii")
        return hmac.new(self._pin_key, message, hashlib.sha256).digest()

    @staticmethod
    def same(a: bytes, b: bytes) -> bool:
        return hmac.compare_digest(a, b)
