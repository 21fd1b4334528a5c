"""Shared pieces of the benchmarks: machine facts, RESULTS.md entries, synthetic datasets,
running `csbot serve`, and wrk.

Everything a benchmark writes (extracts, SQLite databases, request files, server logs) goes
under bench/out/ (git-ignored). Loaded SQLite databases are cached there by case count and
seed, and copied before a run writes to them, so a second run does not import again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
RESULTS_PATH = BENCH_DIR / "RESULTS.md"
# A fixed key: every database a benchmark builds is hashed with it, so cached ones stay usable.
BENCH_SECRET_KEY = "bench-secret-key-0123456789abcdef-not-for-production"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SEED = 1

if str(REPO_DIR) not in sys.path:  # `python bench/x.py` from a clean clone
    sys.path.insert(0, str(REPO_DIR))


# --- machine and results -------------------------------------------------------------------


def machine() -> str:
    uname = platform.uname()
    memory_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return (
        f"{uname.system} {uname.release} {uname.machine}, {os.cpu_count()} CPUs (nproc), "
        f"{memory_kib / 1024 / 1024:.1f} GiB memory, Python {platform.python_version()}"
    )


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(REPO_DIR)
    return "python " + " ".join(shlex.quote(a) for a in [str(script), *sys.argv[1:]])


RECORD = True  # --no-record (a trial run): print the entry, do not append it


def add_record_flag(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--no-record", action="store_true",
                        help="print the summary without appending it to bench/RESULTS.md")


def set_record(args) -> None:  # type: ignore[no-untyped-def]
    global RECORD
    RECORD = not args.no_record


def append_results(title: str, body: str) -> None:
    """Add a dated entry to bench/RESULTS.md (append-only) and print it."""
    stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    entry = (
        f"\n## {title} — {stamp}\n\n"
        f"- machine: {machine()}\n"
        f"- command: `{command_line()}`\n\n"
        f"{body.strip()}\n"
    )
    if not RECORD:
        print(entry)
        return
    if not RESULTS_PATH.exists():
        RESULTS_PATH.write_text(
            "# Benchmark results\n\nAppended by the scripts in bench/ (see bench/README.md);"
            " newest last. Absolute figures on a shared 2-core machine are noisy: compare the"
            " ratios measured within one run.\n",
            encoding="utf-8",
        )
    with RESULTS_PATH.open("a", encoding="utf-8") as out:
        out.write(entry)
    print(entry)


def md_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def rss_mib(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- settings and databases ------------------------------------------------------------------


def bench_env(database_url: str, **variables: str) -> dict[str, str]:
    """A clean environment for csbot (no CSBOT_/TWILIO_/TELEGRAM_ leaking in)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CSBOT_", "TWILIO_", "TELEGRAM_"))
    }
    env.update(
        CSBOT_DATABASE_URL=database_url,
        CSBOT_SECRET_KEY=BENCH_SECRET_KEY,
        # Verified once before the load; the session must outlive the run.
        CSBOT_SESSION_IDLE_SECONDS="86400",
        PYTHONUNBUFFERED="1",
    )
    env.update(variables)
    return env


def settings_for(database_url: str, **variables: str):  # type: ignore[no-untyped-def]
    from bot.config import load_settings

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(bench_env(database_url, **variables))
    try:
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def open_bench_runtime(database_url: str, **variables: str):  # type: ignore[no-untyped-def]
    from bot.runtime import open_runtime

    return open_runtime(settings_for(database_url, **variables))


def extract_path(cases: int) -> Path:
    """A synthetic extract with `cases` cases, 12 months each (written once, then reused)."""
    from bot.synthetic import generate

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"extract-{cases}-s{SEED}.json"
    if not path.exists():
        started = time.monotonic()
        partial = path.with_suffix(".partial")
        generate(partial, cases=cases, months=12, seed=SEED)
        partial.rename(path)
        log(f"generated {path.name} in {time.monotonic() - started:.0f} s")
    return path


def load_extract(runtime, cases: int) -> None:  # type: ignore[no-untyped-def]
    from bot.importer.pipeline import import_extract

    started = time.monotonic()
    report = import_extract(runtime, extract_path(cases))
    log(f"imported {cases:,} cases ({report.records:,} records) in {time.monotonic() - started:.0f} s")


def sqlite_dataset(cases: int, run_name: str) -> str:
    """A SQLite URL for a fresh copy of the cached `cases` database (imported once)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    cached = OUT_DIR / f"cases-{cases}-s{SEED}.db"
    if not cached.exists():
        building = OUT_DIR / f"cases-{cases}-s{SEED}.building.db"
        building.unlink(missing_ok=True)
        runtime = open_bench_runtime(f"sqlite:///{building}")
        try:
            load_extract(runtime, cases)
        finally:
            runtime.dispose()  # the last connection to close checkpoints and removes the WAL
        for suffix in ("-wal", "-shm"):
            Path(str(building) + suffix).unlink(missing_ok=True)
        building.rename(cached)
    copy = OUT_DIR / f"run-{run_name}-{cases}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(copy) + suffix).unlink(missing_ok=True)
    shutil.copyfile(cached, copy)
    return f"sqlite:///{copy}"


@contextlib.contextmanager
def postgres_schema(base_url: str, label: str) -> Iterator[str]:
    """A dedicated schema (created, then dropped) and the URL that uses it."""
    import psycopg

    schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL at {plain} is not reachable: {str(exc).splitlines()[0]}")
    separator = "&" if "?" in plain else "?"
    try:
        yield f"{plain}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the server itself, or its uvicorn workers."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        # uvicorn --workers N: the parent supervises N children (plus a resource tracker).
        workers = [p for p in pids if "multiprocessing" not in _cmdline(p) or "spawn_main" in _cmdline(p)]
        return workers or [self.process.pid]


    def all_pids(self) -> list[int]:
        return sorted({self.process.pid, *self.worker_pids()})


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


@contextlib.contextmanager
def running_server(
    env: dict[str, str], *, workers: int = 1, launcher: list[str] | None = None
) -> Iterator[Server]:
    """`csbot serve` on a free loopback port; stopped (SIGTERM) on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(env, CSBOT_PUBLIC_URL=env.get("CSBOT_PUBLIC_URL", url))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    log_file = tempfile.NamedTemporaryFile(dir=OUT_DIR, prefix="serve-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [*(launcher or [sys.executable, "-m", "bot.cli"]), "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO_DIR, start_new_session=True,
    )
    log_file.close()
    server = Server(url, process, Path(log_file.name))
    try:
        _wait_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_healthy(server: Server) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"csbot serve exited:\n{server.log_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"csbot serve did not become healthy:\n{server.log_text()[-3000:]}")


# --- wrk ------------------------------------------------------------------------------------

WRK_MISSING = (
    "wrk is not installed. It is the load generator for these benchmarks (Debian package `wrk`):\n"
    "    apt-get update && apt-get install -y wrk"
)
LUA_SCRIPT = BENCH_DIR / "requests.lua"


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(WRK_MISSING)
    return path


@dataclass
class WrkResult:
    label: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors + non-2xx + bodies without the expected text
    wrapped: int  # times a connection ran out of distinct requests and started again
    server_cpu_ms: float = float("nan")  # the server's CPU time (all its processes) per request
    machine_busy: float = float("nan")  # share of all CPUs busy during the run (anything running)

    def row(self, floor: float | None = None) -> list[object]:
        ratio = f"{self.rps / floor:.2f}x" if floor else "1.00x (floor)"
        return [self.label, f"{self.rps:,.0f}", ratio, f"{self.p50_ms:.1f}", f"{self.p99_ms:.1f}",
                f"{self.server_cpu_ms:.2f}", f"{self.machine_busy:.0%}", f"{self.requests:,}", self.errors]


def write_request_file(path: Path, requests: list[tuple[str, str, dict[str, str], str]]) -> None:
    """Requests for requests.lua: one JSON-free record per request, fields split by \\x1f,
    records by \\x1e (neither occurs in a URL-encoded body or in these headers)."""
    with path.open("w", encoding="utf-8") as out:
        for method, request_path, headers, body in requests:
            header_text = "\x1d".join(f"{k}: {v}" for k, v in headers.items())
            out.write("\x1f".join([method, request_path, header_text, body]) + "\x1e")


def run_wrk(
    label: str,
    url: str,
    request_file: Path,
    *,
    expect: str,
    seconds: int = 12,
    connections: int = 16,
    threads: int = 1,
    server_pids: list[int] | None = None,
) -> WrkResult:
    """wrk --latency with requests.lua replaying `request_file`; every response body must
    contain `expect` (else it counts as an error)."""
    wrk = require_wrk()
    env = dict(
        os.environ, BENCH_REQUESTS=str(request_file), BENCH_EXPECT=expect, BENCH_THREADS=str(threads)
    )
    cpu_before = cpu_seconds(server_pids or [])
    machine_before = machine_ticks()
    completed = subprocess.run(
        [wrk, "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", "10s", "-s", str(LUA_SCRIPT), url],
        env=env, capture_output=True, text=True, timeout=seconds + 60,
    )
    if completed.returncode != 0:
        raise SystemExit(f"wrk failed ({completed.returncode}):\n{completed.stderr}{completed.stdout}")
    figures = None
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            figures = json.loads(line[len("BENCH_JSON "):])
    if figures is None:
        raise SystemExit(f"wrk printed no figures:\n{completed.stdout}\n{completed.stderr}")
    cpu_used = cpu_seconds(server_pids or []) - cpu_before
    busy_after, total_after = machine_ticks()
    busy_share = (busy_after - machine_before[0]) / max(1, total_after - machine_before[1])
    seconds_taken = figures["duration_us"] / 1e6
    result = WrkResult(
        label=label,
        requests=figures["requests"],
        seconds=seconds_taken,
        rps=figures["requests"] / seconds_taken,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["errors"],
        wrapped=figures["wrapped"],
        server_cpu_ms=cpu_used * 1000 / figures["requests"] if server_pids and figures["requests"] else float("nan"),
        machine_busy=busy_share,
    )
    log(f"{label}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms,"
        f" {result.requests:,} requests, {result.errors} errors, server CPU {result.server_cpu_ms:.2f} ms/request,"
        f" machine {result.machine_busy:.0%} busy")
    return result


# --- verified parents -----------------------------------------------------------------------


def paying_parents(runtime, cases: int, count: int, language: str = "en") -> list[int]:  # type: ignore[no-untyped-def]
    """`count` synthetic person indexes, spread over the data, each the paying parent of one
    case with payments on file, preferring `language` (so the expected answer is known)."""
    from sqlalchemy import select

    from bot.store.models import Payment, Person
    from bot.synthetic import case_number, person_id

    step = max(1, cases // (count * 2))
    chosen: list[int] = []
    with runtime.sessions() as session:
        for c in range(0, cases):
            case_index = (c * step) % cases
            if case_index % 10 == 9:  # that case's payer also receives on another case
                continue
            index = 2 * case_index + 1
            lang = session.scalar(select(Person.language).where(Person.id == person_id(index)))
            paid = session.scalar(
                select(Payment.id).where(Payment.case_number == case_number(case_index)).limit(1)
            )
            if lang == language and paid is not None and index not in chosen:
                chosen.append(index)
            if len(chosen) == count:
                return chosen
    raise SystemExit(f"only {len(chosen)} paying parents speaking {language} in {cases} cases")


def verify_chats(runtime, chats: list[tuple[str, str, int]], expect: str) -> None:  # type: ignore[no-untyped-def]
    """Verify each (channel, sender, person index) through the engine: BALANCE, SSN, PIN."""
    from bot.channels.base import InboundMessage
    from bot.engine import ConversationEngine
    from bot.synthetic import credentials

    engine = ConversationEngine(runtime)
    for channel, sender, index in chats:
        creds = credentials(index, SEED)
        outcome = None
        for text in ("BALANCE", creds.ssn, creds.pin):
            outcome = engine.handle(InboundMessage(channel, sender, text, "pre-" + uuid.uuid4().hex))
        reply = "\n".join(r.text for r in outcome.replies) if outcome else ""
        if expect not in reply:
            raise SystemExit(f"verification of {sender} did not end in the answer: {reply!r}")
