"""The shapes of what a parent types and what an extract holds: ASCII digits only.

`\\d` would also take full-width or Arabic-Indic digits, which the keyed hashes and the
agency's records never use; the dialogs and the importer share these definitions so that both
refuse the same text.
"""

from __future__ import annotations

import re

SSN_SHAPE = re.compile(r"^[0-9]{9}$")
PIN_SHAPE = re.compile(r"^[0-9]{5}$")
ZIP_SHAPE = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")  # as records hold it: 12345 or 12345-6789
# As a parent types it: the dash of ZIP+4 may be left out; group 1 is the 5-digit ZIP.
TYPED_ZIP = re.compile(r"^([0-9]{5})(?:-?[0-9]{4})?$")
_SSN_SEPARATORS = re.compile(r"[\s-]")


def is_number(text: str) -> bool:
    """ASCII digits only (a menu choice, a case pick)."""
    return text.isascii() and text.isdigit()


def normalise_ssn(text: str) -> str | None:
    """Digits of an SSN written with optional dashes and spaces, or None if not 9 digits."""
    digits = _SSN_SEPARATORS.sub("", text.strip())
    return digits if SSN_SHAPE.match(digits) else None
