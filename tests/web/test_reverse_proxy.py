"""deploy/nginx/csbot.conf, run by a real nginx in front of a real `csbot serve`: a signed
Twilio request gets its TwiML answer through the proxy, /healthz answers, and the body size
limits are nginx's (64 KB for /twilio/sms, 1 MB elsewhere).

The configuration is used as shipped except for two marked substitutions: its TLS block
becomes a plain listener on a loopback port (no certificate here), and the upstream port is
the test server's. nginx runs in the foreground with a temporary prefix (its pid, logs and
temporary files in the test's folder). Without nginx the test is skipped, except under
CI=true, where it fails: .ci/run installs nginx.
"""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.support.databases import IN_CI
from tests.support.serve_process import ServeProcess, csbot_env, free_port

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "csbot.conf"
AUTH_TOKEN = "twilio-proxy-auth-token-93"
TLS_BLOCK = re.compile(r"^ *# --- TLS .*?# --- end TLS ---\n", re.S | re.M)
UPSTREAM = "server 127.0.0.1:8080;"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )
    if found is None:
        reason = "nginx is not installed (Debian: apt-get install nginx)"
        if IN_CI:
            pytest.fail(reason + ": CI must test deploy/nginx/csbot.conf", pytrace=False)
        pytest.skip(reason)
    return found


def render(config: str, listen_port: int, upstream_port: int) -> str:
    """The shipped configuration with its TLS block and upstream port swapped (each must be
    found exactly once, so the test breaks rather than drifts if the file changes)."""
    assert len(TLS_BLOCK.findall(config)) == 1, "the TLS block markers are missing"
    assert config.count(UPSTREAM) == 1, f"the upstream line {UPSTREAM!r} is missing"
    config = TLS_BLOCK.sub(f"    listen 127.0.0.1:{listen_port};\n", config)
    return config.replace(UPSTREAM, f"server 127.0.0.1:{upstream_port};")


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port}: {log.read_text()}")


@pytest.fixture
def proxied(serve, sqlite_url: str) -> Iterator[tuple[str, ServeProcess]]:
    """(the proxy's URL, the csbot server behind it)."""
    nginx = nginx_binary()
    port = free_port()
    proxy_url = f"http://127.0.0.1:{port}"
    # The service signs and checks against its public URL: the proxy's, as Twilio sees it.
    server = serve(csbot_env(sqlite_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN), public_url=proxy_url)

    # Started as root, nginx runs its workers as nobody, who must reach the temporary files
    # (request bodies over 16 KB): a prefix of its own, not under pytest's private folder.
    prefix = Path(tempfile.mkdtemp(prefix="csbot-nginx-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        prefix.chmod(0o755)
        command = write_nginx_config(nginx, prefix, port, server.port)
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port, process, prefix / "error.log")
        yield proxy_url, server
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        shutil.rmtree(prefix, ignore_errors=True)


def write_nginx_config(nginx: str, prefix: Path, port: int, upstream_port: int) -> list[str]:
    """A main nginx.conf in `prefix` that includes the rendered csbot.conf; the command line
    that runs it in the foreground with everything (pid, logs, temporary files) in `prefix`."""
    (prefix / "temp").mkdir()
    (prefix / "csbot.conf").write_text(render(CONFIG.read_text(), port, upstream_port))
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / 'temp' / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        "worker_processes 1;\n"
        "events { worker_connections 128; }\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n{temp}\n"
        f"    include {prefix / 'csbot.conf'};\n"
        "}\n"
    )
    return [
        nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log"),
        "-g", f"daemon off; pid {prefix / 'nginx.pid'};",
    ]


def test_a_signed_twilio_request_and_healthz_through_nginx(proxied) -> None:
    proxy_url, server = proxied
    health = httpx.get(proxy_url + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}

    params = {
        "From": "+15185550199", "To": "+15185550000", "Body": "HELP",
        "MessageSid": "SM" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32,
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(proxy_url + "/twilio/sms", params)
    response = httpx.post(
        proxy_url + "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    replies = [html.unescape(m) for m in re.findall(r"<Message>(.*?)</Message>", response.text, re.S)]
    assert replies and not any("went wrong" in reply for reply in replies)
    assert server.alive()


def test_body_limits_are_enforced_by_nginx(proxied) -> None:
    proxy_url, server = proxied
    too_big_for_sms = {"Body": "x" * (70 * 1024)}
    response = httpx.post(proxy_url + "/twilio/sms", data=too_big_for_sms, timeout=10)
    assert response.status_code == 413 and "nginx" in response.text  # refused before csbot
    # Elsewhere up to 1 MB passes nginx (csbot then answers: the document route is GET only).
    elsewhere = httpx.post(proxy_url + "/d/token", content=b"x" * (512 * 1024), timeout=10)
    assert elsewhere.status_code == 405
    assert httpx.post(proxy_url + "/d/token", content=b"x" * (1100 * 1024), timeout=10).status_code == 413
    assert server.alive()
