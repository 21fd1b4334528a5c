"""Run `csbot desk` as a real subprocess on a free loopback port, for the browser tests, the
way tests/support/serve_process.py runs `csbot serve`:

    with running_desk(csbot_env(db_url)) as desk:
        httpx.get(desk.url + "/staff/healthz")
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.serve_process import ServeFailed, ServeProcess, csbot_command, free_port, wait_healthy


def start_desk(env: dict[str, str]) -> ServeProcess:
    """Start `csbot desk` and wait until /staff/healthz answers 200."""
    last_error = ""
    for _attempt in range(3):  # another process may grab the free port first
        port = free_port()
        log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the desk writes to it until stop()
            prefix="csbot-desk-", suffix=".log", delete=False
        )
        process = subprocess.Popen(
            [*csbot_command(), "desk", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log_file.close()
        desk = ServeProcess(f"http://127.0.0.1:{port}", port, process, Path(log_file.name), dict(env))
        if wait_healthy(desk, workers=0, path="/staff/healthz"):  # no lifespan: no start-up lines
            return desk
        desk.stop()
        last_error = desk.log_text()
        if "address already in use" not in last_error.lower():
            break
    raise ServeFailed(f"csbot desk did not become healthy:\n{last_error[-3000:]}")


@contextlib.contextmanager
def running_desk(env: dict[str, str]) -> Iterator[ServeProcess]:
    desk = start_desk(env)
    try:
        yield desk
    finally:
        desk.stop()
        with contextlib.suppress(OSError):
            desk.log_path.unlink()
