"""The shapes of what a parent types and what an extract holds: ASCII digits only.

`\\d` would also take full-width or Arabic-Indic digits, which the keyed hashes and the
agency's records never use; the dialogs and the importer share these definitions so that both
refuse the same text.
"""

from __future__ import annotations

import re
import unicodedata

SSN_SHAPE = re.compile(r"^[0-9]{9}\Z")
PIN_SHAPE = re.compile(r"^[0-9]{5}\Z")
ZIP_SHAPE = re.compile(r"^[0-9]{5}(-[0-9]{4})?\Z")  # as records hold it: 12345 or 12345-6789
# As a parent types it: the dash of ZIP+4 may be left out; group 1 is the 5-digit ZIP.
TYPED_ZIP = re.compile(r"^([0-9]{5})(?:-?[0-9]{4})?\Z")
_SSN_SEPARATORS = re.compile(r"[\s-]")


def is_number(text: str) -> bool:
    """ASCII digits only (a menu choice, a case pick)."""
    return text.isascii() and text.isdigit()


def normalise_ssn(text: str) -> str | None:
    """Digits of an SSN written with optional dashes and spaces, or None if not 9 digits."""
    digits = _SSN_SEPARATORS.sub("", text.strip())
    return digits if SSN_SHAPE.match(digits) else None


# Digits joined by at most two separators of any kind ("987-65-4320", "987.65.4320",
# "987 65 4320", "9 8 7 6 5 4 3 2 0", "987–65–4320"); letters end a run.
_DIGIT_RUN = re.compile(r"[0-9](?:[^0-9A-Za-z]{0,2}[0-9])*")


def ascii_digits(text: str) -> str:
    """Every decimal digit as its ASCII digit (full-width, Arabic-Indic, ...): how a number
    written in any script would read."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def _numbers_in(text: str) -> list[list[str]]:
    """The numbers written in a text, in any spelling, each as its groups of ASCII digits."""
    return [re.findall(r"[0-9]+", run) for run in _DIGIT_RUN.findall(ascii_digits(text))]


def holds_ssn(text: str) -> bool:
    """A nine-digit number, however it is written: what an SSN looks like in free text. A
    ZIP+4 (12207-1234) has nine digits too, grouped 5 and 4: an address, not an SSN."""
    return any(sum(map(len, groups)) == 9 and [len(g) for g in groups] != [5, 4] for groups in _numbers_in(text))


def pin_candidates(text: str) -> set[str]:
    """The five-digit numbers of a text, however written: what could be the parent's PIN."""
    return {"".join(groups) for groups in _numbers_in(text) if sum(map(len, groups)) == 5}
