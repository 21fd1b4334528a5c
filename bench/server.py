"""`csbot serve` under load: started and stopped by the tests' launcher
(tests.support.serve_process), its log kept in bench/out/, and the processes to watch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import machine
from workspace import OUT_DIR

from tests.support.serve_process import ServeFailed, ServeProcess, running_serve


@contextlib.contextmanager
def running_server(env: dict[str, str], *, workers: int = 1) -> Iterator[ServeProcess]:
    """`csbot serve` on a free loopback port, healthy (every worker started) before it is
    yielded; stopped (SIGTERM) on exit. Its log stays in bench/out/csbot-serve-*.log."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    try:
        with running_serve(env, workers=workers, log_dir=OUT_DIR, keep_log=True) as server:
            yield server
    except ServeFailed as exc:
        raise SystemExit(str(exc)) from None


def worker_pids(server: ServeProcess) -> list[int]:
    """The processes that answer requests: the server itself, or its uvicorn workers."""
    pid = server.process.pid
    # uvicorn --workers N: the parent supervises N children (plus a resource tracker).
    workers = [
        p for p in machine.children(pid)
        if "multiprocessing" not in machine.cmdline(p) or "spawn_main" in machine.cmdline(p)
    ]
    return workers or [pid]


def all_pids(server: ServeProcess) -> list[int]:
    """The server and its workers: whose CPU time a run costs."""
    return sorted({server.process.pid, *worker_pids(server)})
