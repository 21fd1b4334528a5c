"""Run `csbot serve` as a real subprocess on a free loopback port, for end-to-end tests.

    with running_serve(csbot_env(db_url, TWILIO_AUTH_TOKEN="t0ken")) as server:
        httpx.get(server.url + "/healthz")

or, in a test, the `serve` fixture (a factory that stops every server it started):

    def test_x(serve, sqlite_url):
        server = serve(csbot_env(sqlite_url, TWILIO_AUTH_TOKEN="t0ken"), workers=1)

`csbot_env` (from tests/support/environment.py, re-exported here) builds a clean environment
(no CSBOT_/TWILIO_/TELEGRAM_ variables leak in from the developer's shell) with the test
secret key; `run_csbot(env, "import", path)` runs any
other command with the same environment. The server's output goes to a log file that
`server.log_text()` reads, so tests can check what was (not) logged.

To use the fixture from another test module: `from serve_process import serve  # noqa: F401`
(tests/ is on sys.path), or list "serve_process" in conftest.py's `pytest_plugins`.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.databases import TEST_SECRET_KEY as TEST_SECRET_KEY  # re-exported
from tests.support.environment import csbot_env as csbot_env  # re-exported

STARTUP_TIMEOUT_SECONDS = 40
STOP_TIMEOUT_SECONDS = 20


def csbot_command() -> list[str]:
    """The installed `csbot` console script next to this Python (what an operator runs), else
    `python -m bot.cli`, which is the same `main`."""
    script = Path(sys.executable).with_name("csbot")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "bot.cli"]


def run_csbot(
    env: dict[str, str], *args: str, input_text: str | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `csbot ARGS...` to completion (e.g. `run_csbot(env, "import", str(path))`)."""
    return subprocess.run(
        [*csbot_command(), *args],
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServeProcess:
    url: str  # http://127.0.0.1:PORT, what tests connect to
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    @property
    def public_url(self) -> str:
        """What the service believes its public URL is (signatures are checked against it)."""
        return self.env["CSBOT_PUBLIC_URL"]

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it hangs; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


class ServeFailed(RuntimeError):
    pass


def start_serve(
    env: dict[str, str],
    *,
    workers: int = 1,
    extra_args: tuple[str, ...] = (),
    public_url: str | None = None,
    log_dir: Path | None = None,
) -> ServeProcess:
    """Start `csbot serve` and wait until /healthz answers 200. CSBOT_PUBLIC_URL defaults to
    the server's own loopback URL unless `public_url` or env sets it. The log file goes to
    `log_dir` (default: the system's temporary folder)."""
    last_error = ""
    for _attempt in range(3):  # another process may grab the free port first
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        full_env = dict(env)
        full_env["CSBOT_PUBLIC_URL"] = public_url or env.get("CSBOT_PUBLIC_URL") or url
        log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the server writes to it until stop() closes it
            prefix="csbot-serve-", suffix=".log", dir=log_dir, delete=False
        )
        log_path = Path(log_file.name)
        process = subprocess.Popen(
            [
                *csbot_command(), "serve",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                *extra_args,
            ],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a ^C in the test run does not hit the server twice
        )
        log_file.close()
        server = ServeProcess(url, port, process, log_path, full_env)
        if wait_healthy(server, workers):
            return server
        server.stop()
        last_error = server.log_text()
        if "address already in use" not in last_error.lower():
            break
    raise ServeFailed(f"csbot serve did not become healthy:\n{last_error[-3000:]}")


def wait_healthy(server: ServeProcess, workers: int = 1, path: str = "/healthz") -> bool:
    """`path` answers 200, and each of `workers` has finished starting (uvicorn logs one
    "Application startup complete" per worker of an app with a lifespan; the first one up
    already answers)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS * max(1, workers)
    while time.monotonic() < deadline:
        if not server.alive():
            return False
        try:
            response = httpx.get(server.url + path, timeout=2)
            started = server.log_text().count("Application startup complete")
            if response.status_code == 200 and started >= workers:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def running_serve(
    env: dict[str, str], *, keep_log: bool = False, **options: object
) -> Iterator[ServeProcess]:
    """`start_serve(env, **options)`, stopped on exit; its log is removed unless `keep_log`."""
    server = start_serve(env, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
        if not keep_log:
            with contextlib.suppress(OSError):
                server.log_path.unlink()


@pytest.fixture
def serve() -> Iterator:
    """A factory: `serve(env, workers=1, public_url=None)` -> ServeProcess; all are stopped
    (and their logs removed) when the test ends."""
    started: list[ServeProcess] = []

    def start(env: dict[str, str], **options: object) -> ServeProcess:
        server = start_serve(env, **options)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        with contextlib.suppress(OSError):
            server.log_path.unlink()
