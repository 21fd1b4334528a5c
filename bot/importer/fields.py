"""Field validators of csbot-import/1: each takes a JSON value and returns what is stored, or
raises `Bad` with a message that never quotes the value.

Digits are ASCII only: the SSN, PIN and ZIP shapes are those of `dialogs.shapes` (which the
chat uses too), and every other digit class here is `[0-9]`. `\\d` would also take full-width or
Arabic-Indic digits, which the keyed hashes cannot encode and the agency's records never hold.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import phonenumbers

from dialogs.shapes import PIN_SHAPE, ZIP_SHAPE, normalise_ssn

MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)


class Bad(Exception):
    """A field value is wrong; the message never quotes the value."""


_MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}\Z")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])\Z")
_OFFICE_CODE = re.compile(r"^[A-Z0-9-]{1,16}\Z")
_CASE_NUMBER = re.compile(r"^[A-Z0-9]{1,20}\Z")
# Deliberately plain: one @, no spaces, a dot in the domain. Deliverability is the office's
# mail server's business; this catches a phone number or a name typed into the email column.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}\Z")


def text(max_len: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if type(value) is not str:
            raise Bad("must be a string")
        if not value.strip():
            raise Bad("must not be empty")
        if len(value) > max_len:
            raise Bad(f"must be at most {max_len} characters")
        return value

    return check


def pattern(regex: re.Pattern[str], message: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if type(value) is not str or not regex.match(value):
            raise Bad(message)
        return value

    return check


def money(value: Any) -> Decimal:
    if type(value) is not str:
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            raise Bad('must be a string with two decimals, e.g. "12.50", not a JSON number')
        raise Bad('must be an amount as a string with two decimals, e.g. "12.50"')
    if not _MONEY.match(value):
        raise Bad('must be an amount with exactly two decimals, e.g. "12.50"')
    if value.startswith("-"):
        raise Bad("must not be negative")
    amount = Decimal(value)
    if amount > MAX_MONEY:
        raise Bad(f"must be at most {MAX_MONEY}")
    return amount


def date(value: Any) -> dt.date:
    if type(value) is not str or not _DATE.match(value):
        raise Bad("must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Bad("is not a real calendar date") from None


def month(value: Any) -> str:
    if type(value) is not str or not _MONTH.match(value):
        raise Bad("must be a month YYYY-MM")
    return value


def enum(*allowed: str) -> Callable[[Any], str]:
    message = "must be one of " + ", ".join(allowed)

    def check(value: Any) -> str:
        if value not in allowed or type(value) is not str:
            raise Bad(message)
        return value

    return check


def email(value: Any) -> str:
    if type(value) is not str or len(value) > 254 or not _EMAIL.match(value):
        raise Bad("must be an email address")
    return value


# A North American number written the usual ways: (212) 555-0111, 212.555.0111, +1 212...
# (in ASCII digits: other digits go through phonenumbers, which returns them as ASCII)
_NANP = re.compile(r"^(?:\+?1[\s.-]?)?\(?([2-9][0-9]{2})\)?[\s.-]?([2-9][0-9]{2})[\s.-]?([0-9]{4})\Z")


def phone(value: Any) -> str:
    if type(value) is not str:
        raise Bad("must be a phone number as a string")
    match = _NANP.match(value.strip())
    if match:
        # phonenumbers costs ~80 us a number; US validity depends only on the first six
        # digits (area code and exchange), so that answer is cached.
        national = "".join(match.groups())
        if not _nanp_prefix_valid(national[:6], national):
            raise Bad("is not a valid phone number")
        return "+1" + national
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        raise Bad("must be a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise Bad("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_prefix_cache: dict[str, bool] = {}


def _nanp_prefix_valid(prefix: str, national: str) -> bool:
    known = _prefix_cache.get(prefix)
    if known is None:
        known = phonenumbers.is_valid_number(phonenumbers.parse("+1" + national, None))
        if len(_prefix_cache) < 200_000:  # bounded: at most a few MB
            _prefix_cache[prefix] = known
    return known


def ssn_digits(value: Any) -> str:
    # Never quote the value, not even in this message: it may be a real SSN mistyped.
    if type(value) is not str:
        raise Bad("must be 9 digits as a string (dashes and spaces allowed)")
    digits = normalise_ssn(value)
    if digits is None:
        raise Bad("must be 9 digits (dashes and spaces allowed)")
    return digits


def pin_digits(value: Any) -> str:
    if type(value) is not str or not PIN_SHAPE.match(value):
        raise Bad("must be exactly 5 digits")
    return value


office_code = pattern(_OFFICE_CODE, "must be 1-16 characters of A-Z, 0-9 and -")
case_number = pattern(_CASE_NUMBER, "must be 1-20 characters of A-Z and 0-9")
person_id = text(32)
record_id = text(64)
language = enum("en", "fr")
zip_code = pattern(ZIP_SHAPE, "must be a ZIP code: 5 digits or ZIP+4 (12345-6789)")

