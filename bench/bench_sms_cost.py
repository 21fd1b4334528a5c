"""SMS cost: segments of every reply kind, English and French, GSM-7 and unicode modes.

    python bench/bench_sms_cost.py

Scripted conversations run through the real engine on a 1,000-case synthetic database, and
each answer is rendered exactly as POST /twilio/sms renders it (bot.channels.sms), once with
CSBOT_SMS_ENCODING=gsm7 and once with unicode; segments are counted with
bot.channels.sms.gsm7.segments (160 GSM-7 / 70 UCS-2 characters alone, 153 / 67 per part when
concatenated). Goals: every message at most 2 segments, the balance reply 1 segment.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from case_data import SEED, sqlite_dataset
from results import add_record_flag, append_results, md_table, set_record
from settings import open_bench_runtime
from verified_parents import paying_parents

if TYPE_CHECKING:
    from bot.conversation.engine import ConversationEngine
    from bot.conversation.turn import Outcome

CASES = 1_000
BOTH_ROLES = 16  # person 2c for c = 8: receives on case 8, pays on case 9 (bot/demo/synthetic.py)
LANGS = {"en": "ENGLISH", "fr": "FRANCAIS"}
MODES = ("gsm7", "unicode")


def script(ssn: str, pin: str, dob: str, zip_code: str, language_word: str) -> list[tuple[str, str]]:
    """(reply kind, what the parent sends) for a parent with two cases in both roles."""
    return [
        ("language chosen", language_word),
        ("not understood", "hello there"),
        ("help", "HELP"),
        ("verification: SSN prompt", "BALANCE"),
        ("verification: SSN of the wrong shape", "1234"),
        ("verification: PIN prompt", ssn),
        ("verification: PIN of the wrong shape", "12"),
        ("verification failed", "00001" if pin != "00001" else "00002"),
        ("verification: SSN prompt", "BALANCE"),
        ("verification: PIN prompt", ssn),
        ("balance, 2 cases (right after the PIN)", pin),
        ("menu", "MENU"),
        ("payment history, first page", "PAYMENTS"),
        ("payment history, next page", "MORE"),
        ("payment history, printable link", "PDF"),
        ("disbursements", "DISBURSEMENTS"),
        ("coupon", "COUPON"),
        ("statement", "STATEMENT"),
        ("monthly notice", "NOTICE"),
        ("office: pick the case", "OFFICE"),
        ("office: type the message", "1"),
        ("office: confirm", "Please call me about the payment schedule on this case."),
        ("office: sent", "SEND"),
        ("logout", "LOGOUT"),
        ("PIN re-mail: SSN prompt", "PIN"),
        ("PIN re-mail: date of birth prompt", ssn),
        ("PIN re-mail: ZIP prompt", dob),
        ("PIN re-mail: done", zip_code),
        ("opt-out (STOP)", "STOP"),
        ("opt-in (START)", "START"),
    ]


def balance_script(ssn: str, pin: str, language_word: str) -> list[tuple[str, str]]:
    return [
        ("language chosen", language_word),
        ("verification: SSN prompt", "BALANCE"),
        ("verification: PIN prompt", ssn),
        ("balance, 1 case (right after the PIN)", pin),
        ("balance, 1 case", "BALANCE"),
    ]


def run(engine: ConversationEngine, sender: str, steps: list[tuple[str, str]]) -> list[tuple[str, str, Outcome]]:
    from bot.conversation.turn import InboundMessage

    outcomes = []
    for kind, text in steps:
        outcome = engine.handle(InboundMessage("sms", sender, text, "SM" + uuid.uuid4().hex))
        outcomes.append((kind, text, outcome))
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_record_flag(parser)
    parser.add_argument("--show", action="store_true", help="print every rendered message")
    args = parser.parse_args()
    set_record(args)

    from bot.channels.sms.gsm7 import segments
    from bot.channels.sms.route import SmsComponent
    from bot.conversation.engine import ConversationEngine
    from bot.demo.synthetic import credentials, person_id
    from bot.store.models import Person

    url = sqlite_dataset(CASES, "smscost")
    components = {}
    for mode in MODES:
        runtime = open_bench_runtime(url, TWILIO_AUTH_TOKEN="cost-token", CSBOT_SMS_ENCODING=mode)
        components[mode] = SmsComponent(runtime, ConversationEngine(runtime))
    runtime = components["gsm7"].runtime
    engine = ConversationEngine(runtime)
    with runtime.sessions() as session:
        person = session.get(Person, person_id(BOTH_ROLES))
        dob, zip_code = person.date_of_birth.isoformat(), person.address_zip[:5]
    both = credentials(BOTH_ROLES, SEED)
    single = credentials(paying_parents(runtime, CASES, 1)[0], SEED)

    # kind -> lang -> mode -> list of segment counts (one per message)
    cells: dict[str, dict[str, dict[str, list[int]]]] = {}
    conversation_cost: dict[tuple[str, str], tuple[int, int, int]] = {}
    worst_message = 0
    for n, (lang, word) in enumerate(LANGS.items()):
        runs = [
            run(engine, f"+1718555{n:02d}01", script(both.ssn, both.pin, dob, zip_code, word)),
            run(engine, f"+1718555{n:02d}02", balance_script(single.ssn, single.pin, word)),
        ]
        for outcomes in runs:
            for kind, _text, outcome in outcomes:
                for mode in MODES:
                    messages = components[mode].render_outcome(outcome)
                    counts = [segments(m) for m in messages]
                    cells.setdefault(kind, {}).setdefault(lang, {}).setdefault(mode, counts)
                    if mode == "gsm7":
                        worst_message = max([worst_message, *counts])
                    if args.show:
                        for m in messages:
                            print(f"--- {lang} {mode} {kind} ({segments(m)} seg)\n{m}")
        # "Check my balance": BALANCE, SSN, PIN (the answer comes with the PIN).
        for mode in MODES:
            outbound = sum(sum(cells[k][lang][mode]) for k in (
                "verification: SSN prompt", "verification: PIN prompt",
                "balance, 1 case (right after the PIN)"))
            conversation_cost[(lang, mode)] = (3, 3, outbound)
        apology = {mode: components[mode].apology("0A1B2C3D", lang) for mode in MODES}
        for mode in MODES:
            cells.setdefault("apology (error on our side)", {}).setdefault(lang, {})[mode] = [
                segments(m) for m in apology[mode]]

    def show(counts: list[int]) -> str:
        if not counts:
            return "0 (silent)"
        total = sum(counts)
        return f"{total}" if len(counts) == 1 else f"{total} ({'+'.join(map(str, counts))})"

    header = ["reply kind", *[f"{lang} {mode}" for lang in LANGS for mode in MODES]]
    rows = [[kind, *[show(cells[kind][lang][mode]) for lang in LANGS for mode in MODES]]
            for kind in cells]
    balance_single = {(lang, mode): cells["balance, 1 case"][lang][mode] for lang in LANGS for mode in MODES}
    balance_ok = all(c == [1] for (lang, mode), c in balance_single.items() if mode == "gsm7")
    lines = [
        "SMS cost: segments per reply as sent (a cell 'N (a+b)' is N segments in two <Message>s of"
        " a and b segments; the parent has two cases in both roles unless the kind says 1 case).",
        "",
        md_table(header, rows),
        "",
        "\"Check my balance\" from an unverified phone (BALANCE, SSN, PIN; the balance comes with"
        " the PIN): 3 messages in, and out:",
        "",
        md_table(["language", "mode", "segments out"],
                  [[lang, mode, cost[2]] for (lang, mode), cost in conversation_cost.items()]),
        "",
        f"- largest single message in gsm7 mode: {worst_message} segments (goal <= 2:"
        f" {'met' if worst_message <= 2 else 'NOT met'})",
        f"- balance reply (1 case) in gsm7 mode: en {show(balance_single[('en', 'gsm7')])},"
        f" fr {show(balance_single[('fr', 'gsm7')])} segment(s) (goal 1: {'met' if balance_ok else 'NOT met'});"
        f" unicode mode: en {show(balance_single[('en', 'unicode')])}, fr {show(balance_single[('fr', 'unicode')])}",
    ]
    for component in components.values():
        component.runtime.dispose()
    append_results("SMS cost (segments)", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
