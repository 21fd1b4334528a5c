"""Memory: a worker's RSS after 100,000 distinct conversations.

    python bench/bench_memory.py

One process builds what a `csbot serve` worker builds (the Starlette app with every
configured component, the conversation engine, the SMS channel) on a 20,000-case SQLite
database, then handles 100,000 messages from 100,000 different phone numbers through the
engine and the SMS rendering (no HTTP: the load generator would dominate the run time).
Each new number sends BALANCE (a new conversation, asked for its SSN); every 100th finishes
verification and gets its balance. RSS is read from /proc/self/status as it goes.
Goal: at most 150 MB after 100k conversations.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from case_data import SEED, sqlite_dataset
from machine import rss_mib
from results import add_record_flag, append_results, md_table, set_record
from settings import open_bench_runtime
from verified_parents import paying_parents
from workspace import log

CASES = 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=CASES)
    add_record_flag(parser)
    args = parser.parse_args()
    set_record(args)

    url = sqlite_dataset(args.cases, "memory")
    from bot.channels.sms.render import twiml_response
    from bot.channels.sms.route import SmsComponent
    from bot.conversation.turn import InboundMessage
    from bot.demo.synthetic import credentials
    from bot.web.app import create_app

    runtime = open_bench_runtime(url, TWILIO_AUTH_TOKEN="memory-token")
    app = create_app(runtime, background=False)  # everything a worker imports and builds
    sms = next(c for c in app.router.routes if getattr(c, "path", "") == "/twilio/sms")
    component: SmsComponent = sms.endpoint.__self__
    engine = component.engine
    parents = paying_parents(runtime, args.cases, 64)
    gc.collect()
    start_rss = rss_mib()
    log(f"worker built: RSS {start_rss:.0f} MiB")

    checkpoints: list[tuple[int, float, float]] = [(0, start_rss, 0.0)]
    every = max(1, args.conversations // 10)
    started = time.monotonic()

    def send(sender: str, text: str) -> None:
        outcome = engine.handle(InboundMessage("sms", sender, text, "SM" + uuid.uuid4().hex))
        twiml_response(component.render_outcome(outcome))

    for n in range(1, args.conversations + 1):
        sender = f"+1{200 + n // 10_000_000:03d}{n % 10_000_000:07d}"
        send(sender, "BALANCE")
        if n % 100 == 0:
            creds = credentials(parents[(n // 100) % len(parents)], SEED)
            send(sender, creds.ssn)
            send(sender, creds.pin)
        if n % every == 0:
            checkpoints.append((n, rss_mib(), time.monotonic() - started))
            log(f"{n:,} conversations: RSS {checkpoints[-1][1]:.0f} MiB")
    elapsed = time.monotonic() - started
    gc.collect()
    end_rss = rss_mib()
    runtime.dispose()
    rows = [[f"{n:,}", f"{rss:.0f}", f"{rss - start_rss:+.0f}"] for n, rss, _ in checkpoints]
    lines = [
        f"Memory: one worker process (app, engine, SMS channel), SQLite, {args.cases:,} cases;"
        f" {args.conversations:,} distinct phone numbers each sending BALANCE, every 100th"
        f" verifying (SSN, PIN); {elapsed:.0f} s.",
        "",
        md_table(["conversations", "RSS MiB", "vs start"], rows),
        "",
        f"- RSS after {args.conversations:,} conversations: **{end_rss:.0f} MiB** (after gc),"
        f" {end_rss - start_rss:+.0f} MiB over the built worker (goal <= 150 MB:"
        f" {'met' if end_rss * 1.048576 <= 150 else 'NOT met'})",
    ]
    append_results("Memory (worker RSS)", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
