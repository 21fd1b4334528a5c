"""The GSM-7 alphabet (3GPP TS 23.038): folding text into it, counting segments, splitting.

A GSM-7 SMS segment holds 160 septets; one part of a concatenated message holds 153 (the
rest is the User Data Header). Characters of the extension table (^ { } \\ [ ~ ] | €) are sent
as ESC + char and cost two septets; they are never split across two parts. Any character
outside the alphabet makes the whole message UCS-2: 70 UTF-16 units in one segment, 67 per
part when concatenated (a surrogate pair is never split across parts).

`fold_to_gsm7` replaces what GSM-7 lacks by its nearest form, so French keeps 160 characters
a segment: no-break and thin spaces (Babel puts U+202F in "1 250,75 $US") become spaces,
curly quotes straight quotes, guillemets « » a straight double quote (one character, not two:
the budget is tight and the meaning is the same), dashes a hyphen, letters with accents GSM-7
lacks the bare letter (ê → e, ç → c, œ → oe). Letters GSM-7 has (é è ù ì ò à Ç É Ä Ö Ñ Ü ä ö ñ ü
ß Æ æ Å å Ø ø) are kept.
"""

from __future__ import annotations

import re
import unicodedata

# The basic table, in code-point order 0x00..0x7F (0x1B, ESC, is the escape to the extension
# table and is not a character of its own).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"
    "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table's printable characters (form feed left out: never wanted in a reply).
GSM7_EXTENSION = "^{}\\[~]|€"

_BASIC = frozenset(GSM7_BASIC)
_EXTENSION = frozenset(GSM7_EXTENSION)

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67

# What to write instead of characters GSM-7 lacks, where Unicode decomposition gives nothing
# useful. Checked before decomposition.
_REPLACEMENTS: dict[str, str] = {
    # spaces: no-break, narrow no-break (Babel's French grouping), thin, figure, en/em, ideographic
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u2002": " ", "\u2003": " ",
    "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2008": " ", "\u200a": " ", "\u3000": " ",
    "\u2000": " ", "\u2001": " ", "\u205f": " ", "\t": " ",
    # invisible characters
    "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
    # quotes
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u00b4": "'", "\u2039": "'", "\u203a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    # dashes, bullets, dots
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u2022": "-", "\u00b7": ".", "\u2026": "...", "\u2044": "/",
    # letters without a decomposition
    "œ": "oe", "Œ": "OE", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ı": "i", "ĸ": "k",
    # signs
    "\u00b0": "o", "\u00ba": "o", "\u00aa": "a", "\u00a9": "(c)", "\u00ae": "(R)",
    "\u00d7": "x", "\u00f7": "/", "\u00a2": "c",
}


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 basic or extension table."""
    return all(ch in _BASIC or ch in _EXTENSION for ch in text)


def _fold_char(ch: str) -> str:
    if ch in _BASIC or ch in _EXTENSION:
        return ch
    replacement = _REPLACEMENTS.get(ch)
    if replacement is not None:
        return replacement
    if unicodedata.category(ch) in ("Cc", "Cf"):
        return ""  # control and format characters: invisible, nothing to approximate
    # General fallback: compatibility decomposition, without combining marks (ê → e + ^ → e).
    out = []
    for part in unicodedata.normalize("NFKD", ch):
        if unicodedata.combining(part):
            continue
        if part in _BASIC or part in _EXTENSION:
            out.append(part)
        elif part in _REPLACEMENTS:
            out.append(_REPLACEMENTS[part])
    if out:
        return "".join(out)
    return "?"


# French quotes hold their text between (no-break) spaces: « texte ». Folded to '"', those
# spaces would stand inside the quotes, so they go with the guillemets.
_GUILLEMETS = re.compile("«[ \u00a0\u202f]*|[ \u00a0\u202f]*»")


def fold_to_gsm7(text: str) -> str:
    """The text in the GSM-7 alphabet, each missing character replaced by its nearest form
    ('?' when there is none)."""
    if is_gsm7(text):
        return text
    text = _GUILLEMETS.sub('"', text)
    return "".join(_fold_char(ch) for ch in text)


def _septets(ch: str) -> int:
    return 2 if ch in _EXTENSION else 1


def _ucs2_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _pack(costs: list[int], single: int, part: int) -> int:
    total = sum(costs)
    if total == 0:
        return 1  # an empty message still costs one segment
    if total <= single:
        return 1
    # Greedy packing: an escape pair or a surrogate pair is never split across parts.
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts += 1
            used = 0
        used += cost
    return parts


def encoding_of(text: str) -> str:
    """'gsm7' when the text can be sent in GSM-7, else 'ucs2' (what carriers do)."""
    return "gsm7" if is_gsm7(text) else "ucs2"


def segments(text: str, encoding: str | None = None) -> int:
    """How many SMS segments the text costs.

    `encoding` None picks what a carrier would (GSM-7 if every character fits, else UCS-2);
    'gsm7' or 'ucs2' forces one ('gsm7' on text outside the alphabet is a ValueError).
    """
    encoding = encoding or encoding_of(text)
    if encoding == "gsm7":
        if not is_gsm7(text):
            raise ValueError("text has characters outside GSM-7")
        return _pack([_septets(ch) for ch in text], SINGLE_GSM7, PART_GSM7)
    if encoding in ("ucs2", "unicode"):
        return _pack([_ucs2_units(ch) for ch in text], SINGLE_UCS2, PART_UCS2)
    raise ValueError(f"unknown SMS encoding {encoding!r}")


def fits(text: str, max_segments: int) -> bool:
    return segments(text) <= max_segments


def split_to_fit(text: str, max_segments: int = 2) -> list[str]:
    """Split text into messages of at most `max_segments` segments each, at line boundaries
    where possible, else between words, else between characters. Nothing is dropped except
    the line breaks or spaces where a split falls."""
    if fits(text, max_segments):
        return [text]
    messages: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else current + "\n" + line
        if fits(candidate, max_segments):
            current = candidate
            continue
        if current:
            messages.append(current)
            current = ""
        if fits(line, max_segments):
            current = line
            continue
        pieces = _split_line(line, max_segments)
        messages.extend(pieces[:-1])
        current = pieces[-1]
    if current or not messages:
        messages.append(current)
    return messages


def _split_line(line: str, max_segments: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in line.split(" "):
        candidate = word if not current else current + " " + word
        if fits(candidate, max_segments):
            current = candidate
            continue
        if current:
            pieces.append(current)
            current = ""
        while not fits(word, max_segments):
            cut = _longest_prefix(word, max_segments)
            pieces.append(word[:cut])
            word = word[cut:]
        current = word
    pieces.append(current)
    return pieces


def _longest_prefix(word: str, max_segments: int) -> int:
    low, high = 1, len(word)
    while low < high:  # binary search for the longest prefix that fits
        mid = (low + high + 1) // 2
        if fits(word[:mid], max_segments):
            low = mid
        else:
            high = mid - 1
    return low
