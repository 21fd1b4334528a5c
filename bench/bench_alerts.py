"""Alerts benchmark: events recorded during an import, time to queue a burst, text segments.

    python bench/bench_alerts.py                       # 100k cases, 10% new payments, 50k alerts
    python bench/bench_alerts.py --cases 10000 --alerts 5000 --no-record   # a quick look

1. Import with events. A synthetic extract (bot.demo.synthetic, seed 1, `--months` months) is
   imported into an empty SQLite database at a clock long after its as_of (nothing recent: no
   events); then "tonight's" extract, the same records plus one new payment dated yesterday
   for `--new-share` of the cases, is imported at the clock of the next morning: each new
   payment is an event for its paying parent; and tonight's extract again into an empty
   database at that clock (every record inserted, the recent ones alerted). Reported: records/s, and the
   time of the events statement itself (events/s), timed around
   bot.importer.write.record_import_events.
2. Queue a burst: `--alerts` people, each with consent for an SMS chat and one new event;
   the time of bot.alerts.delivery.dispatch (alert rows + queued outbound messages).
3. Segments: every alert kind in English and French, rendered with the longest date of a
   year and the default program name, as the SMS sender sends it.

Results are printed and appended to bench/RESULTS.md with the date, machine and command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.machine import describe  # noqa: E402

RESULTS = HERE / "RESULTS.md"
SECRET = "bench-secret-key-0123456789abcdef"


def _runtime(url: str):
    os.environ.update(CSBOT_DATABASE_URL=url, CSBOT_SECRET_KEY=SECRET)
    from bot.config import load_settings
    from bot.runtime import open_runtime

    return open_runtime(load_settings())


def bench_import(workdir: Path, cases: int, months: int, new_share: float) -> dict[str, float]:
    from bot.demo.synthetic import DEFAULT_AS_OF, case_number, generate
    from bot.importer import write
    from bot.importer.pipeline import import_extract

    base = workdir / "base.json"
    counts = generate(base, cases=cases, months=months, seed=1)
    yesterday = DEFAULT_AS_OF + dt.timedelta(days=1)
    every = max(1, round(1 / new_share))
    new = [json.dumps({"id": f"NEW-{case_number(c)}", "case_number": case_number(c), "date": yesterday.isoformat(),
                       "amount": "100.00", "source": "income_withholding"}) for c in range(0, cases, every)]
    tonight = workdir / "tonight.json"
    # Streamed line by line (memory stays flat): the same file, as of yesterday, with the new
    # payments first in its payments list.
    with base.open(encoding="utf-8") as source, tonight.open("w", encoding="utf-8") as out:
        for line in source:
            if line.startswith('{"format"'):
                line = line.replace(DEFAULT_AS_OF.isoformat(), yesterday.isoformat(), 1)
            out.write(line)
            if line == '"payments":[\n':
                out.write(",\n".join(new) + (",\n" if counts["payments"] else "\n"))
    records = sum(counts.values())

    timed: list[float] = []
    real = write.record_import_events

    def timed_events(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            timed.append(time.perf_counter() - started)

    write.record_import_events = timed_events  # type: ignore[assignment]
    runtime = _runtime(f"sqlite:///{workdir / 'import.db'}")
    with runtime:
        first_clock = dt.datetime.combine(DEFAULT_AS_OF + dt.timedelta(days=60), dt.time(12), tzinfo=dt.UTC)
        first = import_extract(runtime, base, now=first_clock)
        first_events_s = sum(timed)
        timed.clear()
        morning = dt.datetime.combine(yesterday + dt.timedelta(days=1), dt.time(11), tzinfo=dt.UTC)
        second = import_extract(runtime, tonight, now=morning)
    events_s = sum(timed)
    timed.clear()
    with _runtime(f"sqlite:///{workdir / 'fresh.db'}") as runtime:
        fresh = import_extract(runtime, tonight, now=morning)  # every record inserted, events too
    write.record_import_events = real  # type: ignore[assignment]
    return {
        "cases": cases, "months": months, "records": records, "first_s": first.seconds,
        "first_rate": first.records / first.seconds, "first_events": first.alert_events,
        "first_events_s": first_events_s,
        "second_records": second.records, "second_s": second.seconds, "second_rate": second.records / second.seconds,
        "events": second.alert_events, "events_s": events_s, "new": len(new),
        "fresh_s": fresh.seconds, "fresh_rate": fresh.records / fresh.seconds, "fresh_events": fresh.alert_events,
        "fresh_events_s": sum(timed),
    }


def bench_queue(workdir: Path, alerts: int) -> dict[str, float]:
    from sqlalchemy import insert

    from bot.alerts.delivery import dispatch
    from bot.store.models import AlertConsent, AlertEvent

    runtime = _runtime(f"sqlite:///{workdir / 'queue.db'}")
    now = dt.datetime(2026, 11, 26, 15, tzinfo=dt.UTC)
    with runtime:
        with runtime.db.begin() as conn:
            conn.execute(insert(AlertConsent), [
                {"person_id": f"B{i:08d}", "channel": "sms", "recipient": f"+1212{i:07d}",
                 "locale": "fr" if i % 3 == 0 else "en", "words_shown": "Alerts are on for this chat.",
                 "given_at": now} for i in range(alerts)])
            conn.execute(insert(AlertEvent), [
                {"person_id": f"B{i:08d}", "kind": ("payment_sent", "payment_received", "coupon_due")[i % 3],
                 "source_key": f"R{i}", "event_date": dt.date(2026, 11, 25), "recorded_at": now}
                for i in range(alerts)])
        started = time.perf_counter()
        report = dispatch(runtime, now)
        seconds = time.perf_counter() - started
    return {"alerts": alerts, "queued": report.queued, "queue_s": seconds}


def segments() -> list[tuple[str, str, int, int]]:
    from bot.channels.sms.gsm7 import segments as count
    from bot.channels.sms.render import fit_for_sms
    from bot.config import load_settings
    from bot.i18n import translator
    from dialogs.alerts import AlertKind, alert_text

    program = load_settings(CSBOT_SECRET_KEY=SECRET).program_name
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(365)]
    rows = []
    for kind in AlertKind:
        for locale in ("en", "fr"):
            longest = max((alert_text(translator(locale), kind, program, d) for d in days), key=len)
            (sent,) = fit_for_sms(longest, "gsm7")
            rows.append((str(kind), locale, len(sent), count(sent)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--new-share", type=float, default=0.10)
    parser.add_argument("--alerts", type=int, default=50_000)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--segments-only", action="store_true", help="only the texts' segments (seconds)")
    args = parser.parse_args()
    if args.segments_only:
        texts = segments()
        for row in texts:
            print(row)
        if not args.no_record:
            record_segments(texts)
        return 0
    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="csbot-bench-alerts-") as tmp:
        work = Path(tmp)
        imported = bench_import(work, args.cases, args.months, args.new_share)
        print(imported, flush=True)
        queued = bench_queue(work, args.alerts)
        print(queued, flush=True)
    texts = segments()
    for row in texts:
        print(row)
    if not args.no_record:
        record(imported, queued, texts, load_before)
    return 0


def _segments_line(texts: list) -> str:
    return ("- alert texts, longest date of the year, default program name, as sent by SMS:"
            + "".join(f" {kind} {locale} {chars} chars / {segs} segment{'s' if segs > 1 else ''};"
                      for kind, locale, chars, segs in texts).rstrip(";"))


def record_segments(texts: list) -> None:
    command = "python bench/bench_alerts.py " + " ".join(sys.argv[1:])
    lines = [f"## Alert texts — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", "",
             f"- machine: {describe()}", f"- command: `{command.strip()}`", _segments_line(texts), ""]
    _append(lines)


def _append(lines: list[str]) -> None:
    separator = "" if RESULTS.read_text(encoding="utf-8").endswith("\n\n") else "\n"
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(separator + "\n".join(lines) + "\n")
    print(f"appended to {RESULTS}")


def record(imported: dict, queued: dict, texts: list, load_before: str) -> None:
    command = "python bench/bench_alerts.py " + " ".join(sys.argv[1:])
    i, q = imported, queued
    lines = [
        f"## Alerts (sqlite) — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {describe()} (shared with other jobs; load average before {load_before},"
        f" after {' '.join(f'{v:.2f}' for v in os.getloadavg())})",
        f"- command: `{command.strip()}`",
        "",
        "| run | records | import s | records/s | events | events statement s | events/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| first import, {i['cases']:,} cases, {i['months']} months (nothing recent) | {i['records']:,}"
        f" | {i['first_s']:.1f} | {i['first_rate']:,.0f} | {i['first_events']:,} | {i['first_events_s']:.2f} | - |",
        f"| next night: same + {i['new']:,} new payments ({i['new'] / i['cases']:.0%} of cases)"
        f" | {i['second_records']:,}"
        f" | {i['second_s']:.1f} | {i['second_rate']:,.0f} | {i['events']:,} | {i['events_s']:.2f}"
        f" | {i['events'] / i['events_s']:,.0f} |",
        f"| the same extract into an empty database (all inserted) | {i['second_records']:,} | {i['fresh_s']:.1f}"
        f" | {i['fresh_rate']:,.0f} | {i['fresh_events']:,} | {i['fresh_events_s']:.2f}"
        f" | {i['fresh_events'] / i['fresh_events_s']:,.0f} |",
        "",
        f"- queue {q['alerts']:,} alerts (consent in force, one event each; alert rows and queued SMS):"
        f" {q['queue_s']:.1f} s = {q['queued'] / q['queue_s']:,.0f} alerts/s",
        _segments_line(texts),
        "- goal: import with events >= 20,000 records/s: "
        + ("met" if min(i["second_rate"], i["fresh_rate"]) >= 20_000 else "NOT met"),
        "",
    ]
    _append(lines)


if __name__ == "__main__":
    sys.exit(main())
