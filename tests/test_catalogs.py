"""The French catalog is complete: a French-speaking parent never sees English."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
FRENCH = ROOT / "locales" / "fr" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _catalog():
    with FRENCH.open("rb") as fh:
        return read_po(fh, locale="fr")


def _code_messages() -> set[str | tuple[str, ...]]:
    keywords = dict(DEFAULT_KEYWORDS, N_=None)
    found: set[str | tuple[str, ...]] = set()
    for folder in ("bot", "dialogs"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=keywords
        ):
            found.add(message)
    return found


def test_every_french_entry_is_translated_and_not_fuzzy():
    problems = []
    for message in _catalog():
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(message.id)
    assert problems == []


def test_translations_keep_every_placeholder():
    problems = []
    for message in _catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append((ids[0], string))
    assert problems == []


def test_every_message_in_the_code_is_in_the_catalog():
    in_catalog = {message.id for message in _catalog() if message.id}
    missing = sorted(str(m) for m in _code_messages() - in_catalog)
    assert missing == [], "run pybabel extract/update and translate (see README, Languages)"


def test_the_catalog_holds_no_message_the_code_dropped():
    in_code = _code_messages()
    stale = sorted(str(m.id) for m in _catalog() if m.id and m.id not in in_code)  # obsolete (#~) ones are not listed
    assert stale == []
