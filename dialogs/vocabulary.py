"""The words a parent can send (spec/interface.md), in one table: every other view of them —
the word parser, the language a word gives away, Telegram's /commands and command menu, the
keyword and label of a menu choice — is derived from `VOCABULARY`.

Case, accents, surrounding spaces and punctuation do not matter: "Relevé !" is RELEVE.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from dialogs.text import N_


class Intent(StrEnum):
    GREETING = "/start"  # Telegram's own /start: the greeting, never an opt-in
    MENU = "MENU"
    BALANCE = "BALANCE"
    PAYMENTS = "PAYMENTS"
    DISBURSEMENTS = "DISBURSEMENTS"
    STATEMENT = "STATEMENT"
    COUPON = "COUPON"
    NOTICE = "NOTICE"
    PDF = "PDF"  # the printable version of what was just shown (an addition to the interface)
    OFFICE = "OFFICE"
    MESSAGES = "MESSAGES"  # the office's answers
    SEND = "SEND"
    MORE = "MORE"  # next page of a long list (an addition)
    PIN = "PIN"
    ENGLISH = "ENGLISH"
    FRENCH = "FRANCAIS"
    LOGOUT = "LOGOUT"
    HELP = "HELP"
    OPT_OUT = "STOP"
    OPT_IN = "START"
    ALERTS = "ALERTS"  # show this chat's alert setting
    ALERTS_ON = "ALERTS ON"
    ALERTS_OFF = "ALERTS OFF"


@dataclass(frozen=True)
class Entry:
    intent: Intent
    english: tuple[str, ...] = ()  # the first is the keyword shown in English
    french: tuple[str, ...] = ()  # the first is the keyword shown in French
    commands: tuple[str, ...] = ()  # Telegram /commands (English names in every language)
    label: str | None = None  # a button's or the command menu's words (gettext)
    in_command_menu: bool = False  # listed in Telegram's command menu, with its label
    # Words of this entry that exist in both languages, so they say nothing of the parent's.
    either_language: tuple[str, ...] = ()

    def keyword(self, locale: str) -> str:
        words = self.french if locale == "fr" and self.french else self.english
        return words[0]


_OPT_OUT_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
_OPT_IN_WORDS = ("START", "UNSTOP", "YES")  # Twilio's long-code opt-in words

# In the order Telegram's command menu lists them.
VOCABULARY: tuple[Entry, ...] = (
    Entry(Intent.GREETING, commands=("start",), label=N_("Start and sign in"), in_command_menu=True),
    Entry(Intent.MENU, ("MENU",), ("MENU",), ("menu",), N_("Menu"), True, either_language=("MENU",)),
    Entry(Intent.BALANCE, ("BALANCE",), ("SOLDE",), ("balance",), N_("Balance"), True),
    Entry(Intent.PAYMENTS, ("PAYMENTS", "HISTORY"), ("PAIEMENTS", "HISTORIQUE"), ("payments", "history"),
          N_("Payment history"), True),
    Entry(Intent.DISBURSEMENTS, ("DISBURSEMENTS",), ("VERSEMENTS",), ("disbursements",),
          N_("Payments sent to you (disbursements)"), True),
    Entry(Intent.STATEMENT, ("STATEMENT",), ("RELEVE",), ("statement",), N_("Account statements"), True),
    Entry(Intent.COUPON, ("COUPON",), ("COUPON",), ("coupon",), N_("Payment coupons"), True,
          either_language=("COUPON",)),
    Entry(Intent.NOTICE, ("NOTICE",), ("AVIS",), ("notice",), N_("Monthly notice"), True),
    Entry(Intent.PDF, ("PDF",), ("PDF",), ("pdf",), N_("Printable copy (PDF)"), True, either_language=("PDF",)),
    Entry(Intent.OFFICE, ("OFFICE",), ("BUREAU",), ("office",), N_("Email your local office"), True),
    Entry(Intent.MESSAGES, ("MESSAGES",), ("MESSAGES",), ("messages",), N_("Answers from your office"), True,
          either_language=("MESSAGES",)),
    Entry(Intent.SEND, ("SEND",), ("ENVOYER",), ("send",), N_("Send")),
    # PLUS is an English word too: no hint of the parent's language.
    Entry(Intent.MORE, ("MORE",), ("PLUS",), ("more",), N_("More"), either_language=("PLUS",)),
    Entry(Intent.PIN, ("PIN",), ("PIN",), ("pin",), N_("Have your PIN notice mailed again"), True,
          either_language=("PIN",)),
    Entry(Intent.ENGLISH, ("ENGLISH",), ("ANGLAIS",), ("english",), N_("Answer in English"), True),
    Entry(Intent.FRENCH, ("FRENCH",), ("FRANCAIS",), ("francais",), N_("Answer in French"), True),
    Entry(Intent.LOGOUT, ("LOGOUT",), ("DECONNEXION",), ("logout",), N_("Sign out"), True),
    Entry(Intent.HELP, ("HELP", "INFO"), ("AIDE",), ("help",), N_("Help and contact"), True),
    # Two words each: parsed folded (ALERTSON), shown as written.
    Entry(Intent.ALERTS, ("ALERTS",), ("ALERTES",), ("alerts",), N_("Alerts"), True),
    Entry(Intent.ALERTS_ON, ("ALERTS ON",), ("ALERTES OUI",), ("alerts_on",), N_("Turn alerts on")),
    Entry(Intent.ALERTS_OFF, ("ALERTS OFF",), ("ALERTES NON",), ("alerts_off",), N_("Turn alerts off")),
    # SMS opt-out and opt-in (CTIA, and Twilio's own long-code words): reserved, never used for
    # anything else. Not /commands: on Telegram, /start is the greeting. The carriers' English
    # words are used by French speakers too; ARRET is French only.
    Entry(Intent.OPT_OUT, _OPT_OUT_WORDS, ("ARRET",), either_language=_OPT_OUT_WORDS),
    Entry(Intent.OPT_IN, _OPT_IN_WORDS, either_language=_OPT_IN_WORDS),
)

_COMMAND = re.compile(r"^/([a-z_]+)(?:@\w+)?$")
MAX_WORD_TEXT = 40  # a sentence is never a keyword, even if it folds to one


def fold(text: str) -> str:
    """Upper case, accents removed, only letters and digits kept: 'Relevé !' -> 'RELEVE'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in plain.upper() if ch.isalnum() and ch.isascii())


ENTRIES: dict[Intent, Entry] = {entry.intent: entry for entry in VOCABULARY}
WORDS: dict[str, Intent] = {fold(word): e.intent for e in VOCABULARY for word in e.english + e.french}
COMMANDS: dict[str, Intent] = {command: e.intent for e in VOCABULARY for command in e.commands}
COMMAND_MENU: tuple[tuple[str, str], ...] = tuple(
    (e.commands[0], e.label) for e in VOCABULARY if e.in_command_menu and e.label
)
_LANGUAGE_OF_WORD: dict[str, str] = {
    **{fold(w): "en" for e in VOCABULARY for w in e.english if w not in e.either_language},
    **{fold(w): "fr" for e in VOCABULARY for w in e.french if w not in e.either_language},
}


def parse_intent(text: str) -> Intent | None:
    stripped = text.strip()
    command = _COMMAND.match(stripped.lower())
    if command:
        return COMMANDS.get(command.group(1))
    if len(stripped) > MAX_WORD_TEXT:
        return None
    return WORDS.get(fold(stripped))


def language_of_word(text: str) -> str | None:
    """'fr' for AIDE or SOLDE, 'en' for HELP or BALANCE, None for anything else. Telegram's
    /commands have English names whatever the parent's language: they say nothing."""
    if len(text) > MAX_WORD_TEXT or text.lstrip().startswith("/"):
        return None
    return _LANGUAGE_OF_WORD.get(fold(text))
