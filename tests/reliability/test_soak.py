"""A 60-second soak of `csbot serve` on loopback at a steady rate: zero errors and flat memory.

Whole conversations (verify, answers, paging, a document link, help, logout) from a rotating
set of numbers, paced at a fixed number of requests a second. The server's resident memory
(VmRSS from /proc) is sampled every second after a short warm-up; the largest sample of the
last third may be at most 10% above the largest of the first third.
"""

from __future__ import annotations

import itertools
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.dialog_harness import AMINATA, CLAUDE, DANA, JAMES, MARIA
from tests.support.live_service import APOLOGY, Sms, both_channels_env, load_example

pytestmark = pytest.mark.slow

WARMUP_SECONDS = 8
SOAK_SECONDS = 60
RATE_PER_SECOND = 12
MAX_GROWTH = 1.10
PEOPLE = [MARIA, JAMES, AMINATA, CLAUDE, DANA]


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match, "no VmRSS in /proc"
    return int(match.group(1))


def conversations() -> itertools.cycle:
    steps = []
    for n in range(40):
        person = PEOPLE[n % len(PEOPLE)]
        sender = f"+1718555{5000 + n}"
        for text in ("MENU", person["ssn"], person["pin"], "BALANCE", "PAYMENTS", "MORE", "STATEMENT", "HELP", "what?", "LOGOUT"):
            steps.append((sender, text))
    return itertools.cycle(steps)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read memory")
def test_sixty_seconds_at_a_steady_rate(tmp_path, serve) -> None:
    url = f"sqlite:///{tmp_path / 'csbot.db'}"
    env = both_channels_env(url, None)
    load_example(env)
    server = serve(env, workers=1)
    pid = server.process.pid
    sms = Sms(server)
    steps = conversations()
    interval = 1.0 / RATE_PER_SECOND
    errors: list[str] = []
    samples: list[int] = []
    requests = 0
    started = time.monotonic()
    next_send = started
    next_sample = started + WARMUP_SECONDS
    end = started + WARMUP_SECONDS + SOAK_SECONDS
    while time.monotonic() < end:
        sender, text = next(steps)
        params = sms.params(sender, text)
        try:
            response = sms.post(params, sms.sign(params))
            if response.status_code != 200 or APOLOGY in response.text or "<Message>" not in response.text:
                errors.append(f"{response.status_code} {text}: {response.text[:200]}")
            else:
                links = re.findall(r"/d/[A-Za-z0-9_-]+", response.text)
                for link in links[:1]:  # open a document now and then, as a parent would
                    document = httpx.get(server.url + link, timeout=30)
                    if document.status_code != 200:
                        errors.append(f"document {document.status_code}")
        except httpx.HTTPError as exc:
            errors.append(f"{type(exc).__name__} {text}")
        requests += 1
        now = time.monotonic()
        if now >= next_sample:
            samples.append(rss_kib(pid))
            next_sample += 1.0
        next_send += interval
        pause = next_send - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    sms.close()
    assert errors == []
    assert requests >= RATE_PER_SECOND * (WARMUP_SECONDS + SOAK_SECONDS) * 0.9  # the rate was held
    assert len(samples) >= SOAK_SECONDS * 0.9
    third = len(samples) // 3
    first, last = max(samples[:third]), max(samples[-third:])
    assert last <= first * MAX_GROWTH, f"RSS grew from {first} KiB to {last} KiB"
    # uvicorn re-raises SIGTERM after its graceful shutdown: -15 is a clean stop too.
    assert server.stop() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log_text()
    assert "Traceback" not in server.log_text()
