"""Translations and locale-aware formatting (Babel).

Catalogs live in locales/<lang>/LC_MESSAGES/messages.po. They are compiled in memory when
first used, so a fresh clone needs no build step; `pybabel compile` output (.mo) is used
instead when present and newer than the .po file.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

LOCALES = ("en", "fr")
DEFAULT_LOCALE = "en"
DOMAIN = "messages"


def locales_dir() -> Path:
    # The repository's top-level locales/ (source checkouts and editable installs), else the
    # copy that a wheel installs as bot/locales.
    for candidate in (Path(__file__).resolve().parent.parent / "locales", Path(__file__).with_name("locales")):
        if (candidate / "fr" / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
            return candidate
    raise FileNotFoundError("the locales/ folder with the message catalogs is missing")


def normalise_locale(code: object) -> str | None:
    """'fr-CA' -> 'fr'; unknown languages, and anything not a string (a client's hint is
    whatever it sent, e.g. Telegram's language_code as a number) -> None."""
    if not code or not isinstance(code, str):
        return None
    lang = code.strip().lower().replace("_", "-").split("-")[0]
    return lang if lang in LOCALES else None


def _load(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()  # the source strings are English
    folder = locales_dir() / locale / "LC_MESSAGES"
    po_path, mo_path = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo_path.is_file() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """gettext plus Babel formatting for one locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._babel_locale = Locale.parse("en_US" if locale == "en" else "fr_FR")
        self._translations = _load(locale)

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._translations.ngettext(singular, plural, n)

    def money(self, amount: Decimal) -> str:
        return format_currency(amount, "USD", locale=self._babel_locale)

    def date(self, day: dt.date) -> str:
        return format_date(day, format="medium", locale=self._babel_locale)

    def day_month(self, day: dt.date) -> str:
        """'Nov 28' / '28 nov.': the short date of an alert (one SMS segment). French 'août' is
        written 'aout', its 1990 spelling: GSM-7 has no û, and a folded letter is not wanted."""
        if self.locale == "fr":
            return format_date(day, format="d MMM", locale=self._babel_locale).replace("août", "aout")
        return format_date(day, format="MMM d", locale=self._babel_locale)

    def month(self, year_month: str) -> str:
        """'2026-10' -> 'October 2026' / 'octobre 2026'."""
        year, month = (int(part) for part in year_month.split("-"))
        return format_date(dt.date(year, month, 1), format="MMMM y", locale=self._babel_locale)


@cache
def translator(locale: str) -> Translator:
    return Translator(locale if locale in LOCALES else DEFAULT_LOCALE)
