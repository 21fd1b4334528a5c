"""Keyed hashes of SSNs and PINs (HMAC-SHA256 with CSBOT_SECRET_KEY).

The key never lives in the database, so a copied database alone cannot be searched for a
known SSN, nor its 100,000 possible PINs tried. The PIN hash also binds the person id, so two
people with the same PIN do not share a hash.
"""

from __future__ import annotations

import hashlib
import hmac

# Stands in for an unknown person so the unknown-SSN path does the same hashing work.
UNKNOWN_PERSON_ID = "\x00unknown"


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
