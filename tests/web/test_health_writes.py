"""/healthz reports a database that refuses writes (finding: it stayed 200 on a full disk
while every message failed), and goes back to 200 once writes work.

Each test runs a real `csbot serve` and makes its database refuse writes the way it happens
in production, rather than by patching the probe: the messages then fail too, and the test
checks that they do, so the probe is shown to see what the webhooks see.
"""

from __future__ import annotations

import contextlib
import errno
import html
import re
import secrets
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.runtime import open_runtime
from bot.store.models import HealthProbe
from bot.web.app import create_app
from bot.web.health import WRITE_CHECK_INTERVAL_SECONDS
from tests.support.databases import POSTGRES_ADMIN_URL, require_postgres
from tests.support.serve_process import ServeProcess, csbot_env

pytestmark = pytest.mark.slow

AUTH_TOKEN = "twilio-health-auth-token-81"
APOLOGY = "Sorry, something went wrong on our side"
# Long enough for a throttled write to become due and run (interval + lock wait + slack).
OUTCOME_WAIT_SECONDS = WRITE_CHECK_INTERVAL_SECONDS + 10


def wait_for_status(server: ServeProcess, status: int) -> float:
    """Probe /healthz as a load balancer would (every 0.2 s) until it answers `status`;
    the seconds it took."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < OUTCOME_WAIT_SECONDS:
        last = httpx.get(server.url + "/healthz", timeout=10).status_code
        if last == status:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"/healthz stayed {last}, expected {status}\n{server.log_text()[-2000:]}")


def sms_reply(server: ServeProcess, body: str) -> str:
    params = {
        "From": "+15185550123", "To": "+15185550000", "Body": body,
        "MessageSid": "SM" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32,
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(server.public_url + "/twilio/sms", params)
    response = httpx.post(
        server.url + "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}, timeout=30
    )
    assert response.status_code == 200, response.text
    return html.unescape(" ".join(re.findall(r"<Message>(.*?)</Message>", response.text, re.S)))


# --- a full disk (SQLite, the default) ------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real, tiny file system (tmpfs, 8 MB) that the test can fill. Needs the right to
    mount (root, as on the CI machine); skipped with the reason otherwise."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({result.stderr.strip() or result.returncode})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system says ENOSPC; the file."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    return filler


def test_healthz_is_503_while_the_disk_is_full_and_200_once_it_has_room(serve, small_disk: Path) -> None:
    """The finding itself: the SQLite file on a file system that is really full (ENOSPC).

    Why a full tmpfs rather than `PRAGMA max_page_count` or a read-only file: max_page_count
    is a per-connection setting that the service's own connections never see, and it only
    stops the file from growing, while an update in place (such as the probe's) still
    succeeds; a read-only file does not stop root. A full file system fails what a full disk
    fails: SQLite cannot append to its write-ahead log, so every commit (a message's and the
    probe's) gets SQLITE_FULL, while reads still work."""
    env = csbot_env(f"sqlite:///{small_disk / 'csbot.db'}", TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    server = serve(env)
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert APOLOGY not in sms_reply(server, "HELP")

    filler = fill(small_disk)
    wait_for_status(server, 503)
    assert httpx.get(server.url + "/healthz").json() == {"status": "unavailable"}
    assert APOLOGY in sms_reply(server, "HELP"), "the messages should fail too"
    assert "refuses writes (OperationalError SQLITE_FULL)" in server.log_text()

    filler.unlink()
    wait_for_status(server, 200)
    assert APOLOGY not in sms_reply(server, "HELP")
    assert "accepts writes again" in server.log_text()


# --- a read-only PostgreSQL -----------------------------------------------------------------


@contextlib.contextmanager
def postgres_role_and_schema() -> Iterator[tuple[str, str]]:
    """A login role owning a fresh schema; (its URL, its name). Dropped afterwards."""
    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'CREATE SCHEMA "{name}" AUTHORIZATION "{name}"')
    parts = urllib.parse.urlsplit(POSTGRES_ADMIN_URL)
    netloc = f"{name}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    query = "&".join(filter(None, [parts.query, f"options=-csearch_path%3D{name}"]))
    try:
        yield urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, "")), name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            set_read_only(conn, name, False)
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def set_read_only(conn: psycopg.Connection, role: str, read_only: bool) -> None:
    """Make every new session of `role` read-only (or not), and end its current sessions,
    as a fail-over to a standby or a restart would: the service reconnects (pool pre-ping)."""
    if read_only:
        conn.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
    else:
        conn.execute(f'ALTER ROLE "{role}" RESET default_transaction_read_only')
    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))


@pytest.mark.postgres
def test_healthz_is_503_while_postgres_is_read_only_and_200_after(serve) -> None:
    """PostgreSQL refusing writes: sessions that are read-only by default, which is what
    the service meets after failing over to a hot standby, or when a DBA sets the database
    read-only because its disk is filling (`ALTER DATABASE ... SET
    default_transaction_read_only`). Set here on the test's own role, not the database,
    so other tests sharing the server are untouched. Every write then fails with SQLSTATE
    25006 (read_only_sql_transaction) while reads work."""
    require_postgres()
    with postgres_role_and_schema() as (url, role):
        server = serve(csbot_env(url, TWILIO_AUTH_TOKEN=AUTH_TOKEN))
        assert APOLOGY not in sms_reply(server, "HELP")
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            set_read_only(admin, role, True)
            wait_for_status(server, 503)
            assert APOLOGY in sms_reply(server, "HELP"), "the messages should fail too"
            assert "refuses writes (InternalError 25006)" in server.log_text()

            set_read_only(admin, role, False)
            wait_for_status(server, 200)
            assert APOLOGY not in sms_reply(server, "HELP")
        server.stop()


# --- the write is throttled -------------------------------------------------------------------


def test_probes_write_at_most_once_per_interval(make_settings, sqlite_url) -> None:
    """A load balancer probing many times a second costs one write per interval: the probe
    time in health_probe changes at the first probe, then not for the next ones."""
    runtime = open_runtime(make_settings(sqlite_url))

    def stored_time():
        with runtime.db.connect() as conn:
            return conn.scalar(select(HealthProbe.checked_at))

    try:
        migrated = stored_time()
        with TestClient(create_app(runtime, components=[])) as client:
            assert client.get("/healthz").status_code == 200
            first = stored_time()
            assert first > migrated
            for _ in range(20):
                assert client.get("/healthz").status_code == 200
            assert stored_time() == first
    finally:
        runtime.dispose()
