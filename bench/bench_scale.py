"""Scale: does answer latency grow with the data?

    python bench/bench_scale.py                      # 1k, 10k and 100k cases, SQLite

For each dataset (synthetic, 12 months of payments per case; imported once and cached under
bench/out/), 32 paying parents are verified, then BALANCE, PAYMENTS and COUPON are timed
through the conversation engine and the SMS rendering (what a worker does per message,
without HTTP), in one process. Datasets are measured in interleaved rounds, so a burst of
load from elsewhere on the machine hits them all alike. Goal: 100k within 1.3x of 1k.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from case_data import sqlite_dataset
from results import add_record_flag, append_results, md_table, percentile, set_record
from settings import open_bench_runtime
from verified_parents import paying_parents, verify_chats
from workspace import log

INTENTS = ("BALANCE", "PAYMENTS", "COUPON")
PARENTS = 32
EXPECT = {"BALANCE": "(you pay support)", "PAYMENTS": "newest first", "COUPON": "/d/"}


class Dataset:
    def __init__(self, cases: int, url: str) -> None:
        from bot.channels.sms.render import twiml_response
        from bot.channels.sms.route import SmsComponent
        from bot.conversation.engine import ConversationEngine

        self.cases = cases
        self.runtime = open_bench_runtime(url, TWILIO_AUTH_TOKEN="scale-token")
        parents = paying_parents(self.runtime, cases, PARENTS)
        self.senders = [f"+1917555{n:04d}" for n in range(PARENTS)]
        verify_chats(self.runtime, [("sms", s, p) for s, p in zip(self.senders, parents, strict=True)],
                     EXPECT["BALANCE"])
        self.engine = ConversationEngine(self.runtime)
        self.sms = SmsComponent(self.runtime, self.engine)
        self.twiml = twiml_response
        self.timings: dict[str, list[float]] = {intent: [] for intent in INTENTS}
        self.turn = 0

    def send(self, text: str) -> float:
        from bot.conversation.turn import InboundMessage

        sender = self.senders[self.turn % PARENTS]
        self.turn += 1
        started = time.perf_counter()
        outcome = self.engine.handle(InboundMessage("sms", sender, text, "SM" + uuid.uuid4().hex))
        body = self.twiml(self.sms.render_outcome(outcome)).body.decode()
        elapsed = time.perf_counter() - started
        if EXPECT[text] not in body:
            raise SystemExit(f"{text} on {self.cases} cases did not answer as expected: {body[:300]}")
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=30, help="messages per intent per round")
    add_record_flag(parser)
    args = parser.parse_args()
    set_record(args)

    datasets = []
    for cases in args.cases:
        datasets.append(Dataset(cases, sqlite_dataset(cases, "scale")))
        log(f"{cases:,} cases ready")
    for dataset in datasets:  # warm up: caches, compiled statements, the page cache
        for intent in INTENTS:
            for _ in range(10):
                dataset.send(intent)
    for _round in range(args.rounds):
        for dataset in datasets:
            for intent in INTENTS:
                for _ in range(args.per_round):
                    dataset.timings[intent].append(dataset.send(intent))
    for dataset in datasets:
        dataset.runtime.dispose()

    header = ["cases", *[f"{i} p50 / p99 ms" for i in INTENTS]]
    rows = []
    figures: dict[tuple[int, str], tuple[float, float]] = {}
    for dataset in datasets:
        row: list[object] = [f"{dataset.cases:,}"]
        for intent in INTENTS:
            values = sorted(dataset.timings[intent])
            p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
            figures[(dataset.cases, intent)] = (p50, p99)
            row.append(f"{p50:.2f} / {p99:.2f}")
        rows.append(row)
    smallest, largest = min(args.cases), max(args.cases)
    ratio_row: list[object] = [f"{largest:,} / {smallest:,}"]
    worst = 0.0
    for intent in INTENTS:
        p50_ratio = figures[(largest, intent)][0] / figures[(smallest, intent)][0]
        p99_ratio = figures[(largest, intent)][1] / figures[(smallest, intent)][1]
        worst = max(worst, p50_ratio)
        ratio_row.append(f"{p50_ratio:.2f}x / {p99_ratio:.2f}x")
    rows.append(ratio_row)
    body = "\n".join([
        f"Scale: SQLite, one process, engine + SMS rendering per message (no HTTP);"
        f" {args.rounds} interleaved rounds x {args.per_round} messages per intent and dataset,"
        f" {PARENTS} verified paying parents per dataset.",
        "",
        md_table(header, rows),
        "",
        f"- worst p50 ratio {largest:,} / {smallest:,} cases: **{worst:.2f}x** (goal <= 1.3x:"
        f" {'met' if worst <= 1.3 else 'NOT met'}); p99 on this shared machine is noise-prone.",
    ])
    append_results("Scale (latency vs data size)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
