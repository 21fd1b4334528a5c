"""French as an SMS actually carries it is spelled right: every French message of the catalog,
its placeholders filled, rendered as the SMS channel renders it (GSM-7 folding wherever
Unicode would cost a segment more), then checked by Debian's hunspell-fr.

Folding drops the letters GSM-7 lacks (ç, ê, â, î, ô, û, ë, ï, œ): a message long enough to be
folded must be worded without them; a short one is sent as written. hunspell and hunspell-fr
are installed by .ci/run; without them this test skips, except in CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.channels.sms.gsm7 import is_gsm7
from bot.channels.sms.render import fit_for_sms

FRENCH = Path(__file__).resolve().parents[2] / "locales" / "fr" / "LC_MESSAGES" / "messages.po"
# Realistic values in French formats (what Babel gives for fr_FR), long enough to matter.
VALUES = {
    "case": "*0001", "amount": "125,50 $US", "arrears": "3 545,50 $US", "date": "28 nov. 2026",
    "frequency": "toutes les deux semaines", "program": "NYS Child Support", "helpline": "888-208-4485",
    "tty": "866-875-9975", "office": "Bureau de Manhattan", "reference": "OM-7K3F9Q2A", "first": "1",
    "last": "3", "total": "12", "name": "Aminata", "coupon": "*0003-K1",
    "address": "NYS Child Support Processing Center, PO Box 15363, Albany, NY 12212-5363",
    "start": "1 oct. 2026", "end": "31 oct. 2026", "opening": "3 420,00 $US", "due": "502,00 $US",
    "received": "377,00 $US", "closing": "3 545,00 $US", "month": "octobre 2026", "collected": "502,00 $US",
    "disbursed": "502,00 $US", "owed": "3 545,50 $US", "text": "Bonjour, je voudrais parler de mon paiement.",
    "link": "https://bot.example.org/d/abc", "words": "SOLDE, PAIEMENTS", "count": "2", "length": "1600",
    "limit": "1500", "error_id": "A1B2C3D4", "register": "https://my.ny.gov/",
    "signin": "https://newyorkchildsupport.ny.gov/", "source": "saisie sur salaire", "method": "virement",
    "status": "envoyé au bureau", "label": "Solde",
}
# Names, not French words: the program's name, NY.gov.
NOT_FRENCH = {"NYS", "Child", "Support", "NY.gov", "NY.gov."}


def _hunspell_or_skip() -> str:
    found = shutil.which("hunspell")
    dictionary = Path("/usr/share/hunspell/fr.dic")
    if found and dictionary.is_file():
        return found
    reason = "hunspell with the French dictionary (Debian: hunspell hunspell-fr) is not installed"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + ": .ci/run installs it", pytrace=False)
    pytest.skip(reason)


def _french_sms_texts() -> list[tuple[str, str]]:
    with FRENCH.open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    texts = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            filled = re.sub(r"\{(\w+)\}", lambda m: VALUES.get(m.group(1), "x"), string)
            texts.append((string, "\n".join(fit_for_sms(filled, "gsm7"))))
    return texts


def _misspelled(hunspell: str, text: str) -> list[str]:
    listed = subprocess.run([hunspell, "-d", "fr", "-l"], input=text, capture_output=True, text=True, check=True)
    return [
        word for word in listed.stdout.split()
        if word not in NOT_FRENCH and not word.isupper() and not any(ch.isdigit() for ch in word)
    ]


def test_every_french_message_as_sent_by_sms_is_spelled_right() -> None:
    hunspell = _hunspell_or_skip()
    problems = {source[:70]: words for source, sent in _french_sms_texts() if (words := _misspelled(hunspell, sent))}
    assert problems == {}


def test_no_word_loses_a_letter_on_the_way() -> None:
    """Folding can also make another real word (dû -> du, n° -> no): a word written with a
    letter GSM-7 lacks must arrive as written, or not be used in a message that gets folded."""
    lost = {}
    for source, sent in _french_sms_texts():
        filled = re.sub(r"\{(\w+)\}", lambda m: VALUES.get(m.group(1), "x"), source)
        words = {word for word in re.findall(r"[^\W\d_]+", filled) if not is_gsm7(word)}
        if missing := sorted(word for word in words if word not in sent):
            lost[source[:70]] = missing
    assert lost == {}


def test_the_check_finds_what_folding_breaks() -> None:
    hunspell = _hunspell_or_skip()
    folded = "\n".join(fit_for_sms("Vous êtes abonné. Ce reçu est à vous. " + "Merci beaucoup. " * 6, "gsm7"))
    assert set(_misspelled(hunspell, folded)) >= {"etes", "recu"}
