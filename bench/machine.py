"""Facts about the machine and its processes, read from platform and /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path


def describe() -> str:
    """The machine line of a RESULTS.md entry: kernel, CPUs, memory, Python."""
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
    """Resident memory of a process (default: this one) in MiB."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cmdline(pid: int) -> str:
    """A process's command line, arguments joined by spaces ("" if it is gone)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def children(pid: int) -> list[int]:
    """The direct child processes of `pid`."""
    listing = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in listing.read_text().split()] if listing.exists() else []
