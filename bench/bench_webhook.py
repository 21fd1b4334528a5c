"""Webhook throughput and latency under wrk, against the same service's /healthz floor.

    python bench/bench_webhook.py --db sqlite               # SQLite, 1 worker
    python bench/bench_webhook.py --db postgres             # PostgreSQL, 1 then 2 workers
    python bench/bench_webhook.py --db sqlite --channel telegram   # Telegram updates

64 paying parents (20,000 synthetic cases loaded) are verified through the engine first;
then wrk (16 connections) replays pre-signed Twilio posts, "BALANCE" from those 64 senders,
each with its own MessageSid, and checks every answer is the balance. The floor is
GET /healthz (one database round trip per call) with the same wrk settings, measured just
before and just after, on the same running service. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from case_data import DEFAULT_PG_URL, load_extract, postgres_schema, sqlite_dataset
from machine import rss_mib
from request_files import (
    PUBLIC_URL,
    SENDERS,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_TOKEN,
    build_health_request,
    build_sms_requests,
    build_telegram_requests,
    sms_sender,
    telegram_chat,
    telegram_update,
)
from results import add_record_flag, append_results, md_table, percentile, set_record
from server import all_pids, running_server, worker_pids
from settings import bench_env, open_bench_runtime
from verified_parents import paying_parents, verify_chats
from workspace import OUT_DIR, log
from wrk import require_wrk, run_wrk

from bot.store.database import normalise_url
from tests.support.serve_process import free_port

if TYPE_CHECKING:
    from bot.runtime import Runtime

BALANCE_EN = "(you pay support)"


@contextlib.contextmanager
def fake_bot_api(delay: float = 0.0) -> Iterator[tuple[str, Callable[[], dict]]]:
    """bench/fake_bot_api.py in its own process; yields (base_url, stats())."""
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_bot_api.py")), "--port", str(port),
         "--count-text", BALANCE_EN, "--delay", str(delay)],
    )
    base = f"http://127.0.0.1:{port}"

    def stats() -> dict:
        return httpx.get(base + "/stats", timeout=5).json()

    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                stats()
                break
            time.sleep(0.1)
        yield base + "/bot", stats
    finally:
        process.terminate()
        process.wait(10)


def handled_count(database_url: str, channel: str) -> int:
    query = f"SELECT count(*) FROM handled_deliveries WHERE channel='{channel}'"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url[len("sqlite:///"):]) as conn:
            return conn.execute(query).fetchone()[0]
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(query).fetchone()[0]


def measure(database_url: str, workers: int, args: argparse.Namespace, label: str) -> dict:
    channel = args.channel
    variables = dict(TWILIO_AUTH_TOKEN=TWILIO_TOKEN, CSBOT_PUBLIC_URL=PUBLIC_URL)
    run_id = uuid.uuid4().hex[:6]
    load_file = OUT_DIR / f"requests-{channel}-{run_id}.txt"
    health_file = OUT_DIR / f"requests-health-{run_id}.txt"
    # More distinct messages than the fastest run can send, so none is ever repeated.
    if channel == "sms":
        build_sms_requests(load_file, args.requests)
        expect, what = BALANCE_EN, "SMS BALANCE"
    else:
        build_telegram_requests(load_file, args.requests)
        expect, what = "", "Telegram BALANCE"  # 200, empty body; the answers are counted at the fake API
    build_health_request(health_file)
    before_count = handled_count(database_url, channel)
    with contextlib.ExitStack() as stack:
        api_stats = None
        if channel == "telegram":
            api_base, api_stats = stack.enter_context(fake_bot_api(args.api_delay))
            variables.update(TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
                             TELEGRAM_API_BASE_URL=api_base)
        env = bench_env(database_url, **variables)
        sent_before = api_stats()["matching_texts"] if api_stats else 0
        try:
            with running_server(env, workers=workers) as server:
                wrk = dict(seconds=args.seconds, connections=args.connections, threads=args.threads,
                           server_pids=all_pids(server))
                floor_before = run_wrk(f"{label} /healthz before", server.url, health_file,
                                       expect='"ok"', **wrk)
                sms = run_wrk(f"{label} {what}", server.url, load_file, expect=expect, **wrk)
                floor_after = run_wrk(f"{label} /healthz after", server.url, health_file,
                                      expect='"ok"', **wrk)
                latencies = []
                if channel == "telegram" and not args.api_delay:
                    wait_for_empty_queue(database_url)  # the load's replies first
                    latencies = reply_latencies(server.url, api_base)
                rss = [rss_mib(pid) for pid in worker_pids(server)]
                log_text = server.log_text()
                failures = log_text.count("webhook failed") + log_text.count(" failed, error id")
        finally:
            load_file.unlink(missing_ok=True)
            health_file.unlink(missing_ok=True)
        answered = api_stats()["matching_texts"] - sent_before if api_stats else None
    handled = handled_count(database_url, channel) - before_count
    if sms.wrapped:
        log(f"WARNING: requests ran out and were repeated {sms.wrapped} times: raise --requests")
    floor = (floor_before.rps + floor_after.rps) / 2
    return dict(label=label, workers=workers, floor_before=floor_before, sms=sms,
                floor_after=floor_after, floor=floor, ratio=sms.rps / floor, rss=rss,
                failures=failures, handled=handled, answered=answered, latencies=latencies)


REPLY_SAMPLES = 40


def wait_for_empty_queue(database_url: str, limit_seconds: float = 300) -> None:
    """Until the outbound queue holds nothing queued or sending (the sender drained the load)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(normalise_url(database_url))
    deadline = time.time() + limit_seconds
    try:
        while time.time() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(
                    text("SELECT count(*) FROM outbound_messages WHERE status IN ('queued', 'sending')")
                ).scalar_one()
            if not waiting:
                return
            time.sleep(1)
        log(f"WARNING: the outbound queue still holds {waiting} messages after {limit_seconds:.0f} s")
    finally:
        engine.dispose()


def reply_latencies(server_url: str, api_base: str) -> list[float]:
    """Seconds from posting one update to its reply reaching the Bot API stand-in, once the load
    is over: one update at a time, each from another verified chat."""
    import httpx

    stats_url = api_base.removesuffix("/bot") + "/stats/last-reply?chat="
    latencies = []
    first_id = int(time.time() * 1000) % 10**9 * 100 + 50_000_000
    with httpx.Client(timeout=10) as http:
        for n in range(REPLY_SAMPLES):
            chat = telegram_chat(n % SENDERS)
            before = http.get(stats_url + str(chat)).json()["at"]
            posted = time.time()
            http.post(server_url + "/telegram/webhook", json=telegram_update(first_id + n, chat, "BALANCE"),
                      headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
            while time.time() - posted < 10:
                at = http.get(stats_url + str(chat)).json()["at"]
                if at is not None and at != before and at >= posted:
                    latencies.append(at - posted)
                    break
                time.sleep(0.005)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--channel", choices=["sms", "telegram"], default="sms")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--workers", type=int, nargs="*", help="default: 1 (SQLite), 1 and 2 (PostgreSQL)")
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=12, help="each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the server needs the cores)")
    parser.add_argument("--requests", type=int, default=40_000, help="distinct signed messages per run")
    parser.add_argument("--api-delay", type=float, default=0.0,
                        help="Telegram: seconds the Bot API stand-in takes per call (e.g. 0.2)")
    add_record_flag(parser)
    args = parser.parse_args()
    set_record(args)
    require_wrk()
    workers_list = args.workers or ([1] if args.db == "sqlite" else [1, 2])
    if args.db == "sqlite" and workers_list != [1]:
        raise SystemExit("SQLite takes one worker (csbot serve refuses more)")

    results = []
    if args.db == "sqlite":
        url = sqlite_dataset(args.cases, "webhook")
        runtime = open_bench_runtime(url)
        prepare(runtime, args.cases)
        runtime.dispose()
        results.append(measure(url, 1, args, "SQLite, 1 worker"))
    else:
        with postgres_schema(args.pg_url, "webhook") as url:
            runtime = open_bench_runtime(url)
            load_extract(runtime, args.cases)
            prepare(runtime, args.cases)
            runtime.dispose()
            for workers in workers_list:
                results.append(measure(url, workers, args, f"PostgreSQL, {workers} worker{'s' * (workers > 1)}"))
    report(results, args)
    return 0


def prepare(runtime: Runtime, cases: int) -> None:
    parents = paying_parents(runtime, cases, SENDERS)
    chats = [("sms", sms_sender(n), parents[n]) for n in range(SENDERS)]
    chats += [("telegram", str(telegram_chat(n)), parents[n]) for n in range(SENDERS)]
    verify_chats(runtime, chats, BALANCE_EN)
    log(f"verified {SENDERS} SMS senders and {SENDERS} Telegram chats")


def report(results: list[dict], args: argparse.Namespace) -> None:
    rows = []
    for r in results:
        rows.append(r["floor_before"].row())
        rows.append(r["sms"].row(r["floor"]))
        rows.append(r["floor_after"].row())
    table = md_table(
        ["run", "req/s", "vs floor", "p50 ms", "p99 ms", "server CPU ms/req", "machine busy", "requests", "errors"],
        rows,
    )
    lines = [
        f"Webhook: {args.channel} `BALANCE` from {SENDERS} verified senders, {args.cases:,} cases,"
        f" wrk -t{args.threads} -c{args.connections} -d{args.seconds}s per run; the floor is"
        " GET /healthz on the same service, before and after; 'vs floor' is the webhook's req/s over"
        " the mean of the two floors.",
        "",
        table,
        "",
    ]
    for r in results:
        answered = "" if r["answered"] is None else f" {r['answered']:,} balance answers sent to the Bot API stand-in,"
        lines.append(
            f"- {r['label']}: {args.channel.upper() if args.channel == 'sms' else 'Telegram'}"
            f" {r['sms'].rps:,.0f} msg/s = **{r['ratio']:.2f}x** the floor"
            f" ({r['floor']:,.0f} req/s), p50 {r['sms'].p50_ms:.1f} ms, p99 {r['sms'].p99_ms:.1f} ms;"
            f" {r['handled']:,} messages recorded as handled,{answered} {r['failures']} failures in the log,"
            f" worker RSS after: {', '.join(f'{x:.0f}' for x in r['rss'])} MiB"
        )
    by_workers = {r["workers"]: r for r in results}
    if args.channel == "telegram":
        r = results[0]
        lines.append(f"- Bot API stand-in answering after {args.api_delay * 1000:.0f} ms per call")
        if r["latencies"]:
            ordered = sorted(r["latencies"])
            lines.append(
                f"- update to reply sent, {len(ordered)} updates one at a time after the load: p50"
                f" {percentile(ordered, 50) * 1000:.0f} ms, p95 {percentile(ordered, 95) * 1000:.0f} ms"
                f" (goal with a prompt Bot API: p95 <= 1 s)"
            )
        ok = r["ratio"] >= 0.25 and r["sms"].p99_ms <= 50 and not r["sms"].errors
        lines.append(f"- goal (>= 0.25x the floor, webhook p99 <= 50 ms): {'met' if ok else 'NOT met'}")
    elif args.db == "sqlite":
        r = results[0]
        ok = r["ratio"] >= 0.25 and r["sms"].p99_ms <= 50 and not r["sms"].errors
        lines.append(f"- goal (>= 0.25x the floor, p99 <= 50 ms): {'met' if ok else 'NOT met'}")
    elif 1 in by_workers and 2 in by_workers:
        scale = by_workers[2]["sms"].rps / by_workers[1]["sms"].rps
        lines.append(
            f"- 2 workers / 1 worker: **{scale:.2f}x** SMS throughput (goal >= 1.6x:"
            f" {'met' if scale >= 1.6 else 'NOT met'})"
        )
    append_results(f"Webhook throughput ({args.channel}, {args.db})", "\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
