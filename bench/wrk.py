"""Load generation: wrk --latency with requests.lua replaying a request file, and its figures
(requests/s, p50/p99, errors, the server's CPU time per request, how busy the machine was)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from machine import cpu_seconds, machine_ticks
from workspace import BENCH_DIR, log

WRK_MISSING = (
    "wrk is not installed. It is the load generator for these benchmarks (Debian package `wrk`):\n"
    "    apt-get update && apt-get install -y wrk"
)
LUA_SCRIPT = BENCH_DIR / "requests.lua"


def require_wrk() -> str:
    """The path of wrk, or exit saying how to install it."""
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
