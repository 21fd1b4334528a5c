"""The words a parent can send (spec/interface.md), in English and French.

Case, accents, surrounding spaces and punctuation do not matter: "Relevé !" is RELEVE.
Telegram also sends each as a /command with the English name.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Intent(StrEnum):
    MENU = "MENU"
    HELP = "HELP"
    BALANCE = "BALANCE"
    PAYMENTS = "PAYMENTS"
    DISBURSEMENTS = "DISBURSEMENTS"
    COUPON = "COUPON"
    STATEMENT = "STATEMENT"
    NOTICE = "NOTICE"
    OFFICE = "OFFICE"
    PIN = "PIN"
    ENGLISH = "ENGLISH"
    FRENCH = "FRANCAIS"
    LOGOUT = "LOGOUT"
    SEND = "SEND"
    MORE = "MORE"  # next page of a long list (an addition to the interface's table)
    PDF = "PDF"  # the printable version of what was just shown (an addition)
    OPT_OUT = "STOP"
    OPT_IN = "START"
    GREETING = "/start"  # Telegram's own /start: the greeting, never an opt-in


WORDS: dict[str, Intent] = {
    "MENU": Intent.MENU,
    "HELP": Intent.HELP,
    "INFO": Intent.HELP,
    "AIDE": Intent.HELP,
    "BALANCE": Intent.BALANCE,
    "SOLDE": Intent.BALANCE,
    "PAYMENTS": Intent.PAYMENTS,
    "HISTORY": Intent.PAYMENTS,
    "PAIEMENTS": Intent.PAYMENTS,
    "HISTORIQUE": Intent.PAYMENTS,
    "DISBURSEMENTS": Intent.DISBURSEMENTS,
    "VERSEMENTS": Intent.DISBURSEMENTS,
    "COUPON": Intent.COUPON,
    "STATEMENT": Intent.STATEMENT,
    "RELEVE": Intent.STATEMENT,
    "NOTICE": Intent.NOTICE,
    "AVIS": Intent.NOTICE,
    "OFFICE": Intent.OFFICE,
    "BUREAU": Intent.OFFICE,
    "PIN": Intent.PIN,
    "ENGLISH": Intent.ENGLISH,
    "ANGLAIS": Intent.ENGLISH,
    "FRANCAIS": Intent.FRENCH,
    "FRENCH": Intent.FRENCH,
    "LOGOUT": Intent.LOGOUT,
    "DECONNEXION": Intent.LOGOUT,
    "SEND": Intent.SEND,
    "ENVOYER": Intent.SEND,
    "MORE": Intent.MORE,
    "PLUS": Intent.MORE,
    "PDF": Intent.PDF,
    # SMS opt-out and opt-in (CTIA): reserved, never used for anything else.
    "STOP": Intent.OPT_OUT,
    "STOPALL": Intent.OPT_OUT,
    "UNSUBSCRIBE": Intent.OPT_OUT,
    "CANCEL": Intent.OPT_OUT,
    "END": Intent.OPT_OUT,
    "QUIT": Intent.OPT_OUT,
    "REVOKE": Intent.OPT_OUT,
    "OPTOUT": Intent.OPT_OUT,
    "ARRET": Intent.OPT_OUT,
    "START": Intent.OPT_IN,
    "UNSTOP": Intent.OPT_IN,
}

# Words that exist in one language only: a hint of the parent's language when the chat has
# none (SMS carries no language_code). MENU, PIN, COUPON, PDF and PLUS are shared.
FRENCH_WORDS = {"AIDE", "SOLDE", "PAIEMENTS", "HISTORIQUE", "VERSEMENTS", "RELEVE", "AVIS",
                "BUREAU", "FRANCAIS", "ANGLAIS", "DECONNEXION", "ENVOYER", "ARRET"}
ENGLISH_WORDS = {"HELP", "INFO", "BALANCE", "PAYMENTS", "HISTORY", "DISBURSEMENTS",
                 "STATEMENT", "NOTICE", "OFFICE", "ENGLISH", "FRENCH", "LOGOUT", "SEND", "MORE"}


def language_of_word(text: str) -> str | None:
    """'fr' for AIDE or SOLDE, 'en' for HELP or BALANCE, None for anything else. Telegram's
    /commands have English names whatever the parent's language: they say nothing."""
    if len(text) > 40 or text.lstrip().startswith("/"):
        return None
    folded = fold(text)
    if folded in FRENCH_WORDS:
        return "fr"
    if folded in ENGLISH_WORDS:
        return "en"
    return None


# Telegram /commands: the English names, plus /start and /help.
COMMANDS: dict[str, Intent] = {
    "start": Intent.GREETING,
    "help": Intent.HELP,
    "menu": Intent.MENU,
    "balance": Intent.BALANCE,
    "payments": Intent.PAYMENTS,
    "history": Intent.PAYMENTS,
    "disbursements": Intent.DISBURSEMENTS,
    "coupon": Intent.COUPON,
    "statement": Intent.STATEMENT,
    "notice": Intent.NOTICE,
    "office": Intent.OFFICE,
    "pin": Intent.PIN,
    "english": Intent.ENGLISH,
    "francais": Intent.FRENCH,
    "logout": Intent.LOGOUT,
    "send": Intent.SEND,
    "more": Intent.MORE,
    "pdf": Intent.PDF,
}

_COMMAND = re.compile(r"^/([a-z_]+)(?:@\w+)?$")


def fold(text: str) -> str:
    """Upper case, accents removed, only letters and digits kept: 'Relevé !' -> 'RELEVE'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in plain.upper() if ch.isalnum() and ch.isascii())


def parse_intent(text: str) -> Intent | None:
    stripped = text.strip()
    command = _COMMAND.match(stripped.lower())
    if command:
        return COMMANDS.get(command.group(1))
    if len(stripped) > 40:  # a sentence is never a keyword, even if it folds to one
        return None
    return WORDS.get(fold(stripped))
