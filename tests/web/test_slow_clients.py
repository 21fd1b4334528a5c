"""Clients that hold connections (finding: 300 connections sending their headers a byte at a
time were held open for 60 s): through a real `csbot serve`, a request whose headers do not
all arrive within HEADER_TIMEOUT_SECONDS is closed, while normal requests are served, and
connections over MAX_CONNECTIONS are answered 503 at once. The defaults are what is tested:
no test-only setting shortens them."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.web.protocol import HEADER_TIMEOUT_SECONDS, MAX_CONNECTIONS
from tests.support.serve_process import ServeProcess, csbot_env

pytestmark = pytest.mark.slow

SLACK_SECONDS = 3.0


def seconds_until_closed(server: ServeProcess, first: bytes, trickle: bytes = b"") -> float:
    """Connect, send `first`, then one byte of `trickle` a second; the seconds until the
    server closes the connection (at most HEADER_TIMEOUT_SECONDS + 2 * SLACK_SECONDS)."""
    started = time.monotonic()
    limit = HEADER_TIMEOUT_SECONDS + 2 * SLACK_SECONDS
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(first)
        received = b""
        sock.settimeout(1.0)
        for byte in [trickle[i : i + 1] for i in range(len(trickle))] or [b""] * int(limit):
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                chunk = None
            except ConnectionResetError:
                break
            if chunk == b"":
                break
            received += chunk or b""
            if time.monotonic() - started > limit:
                break
            try:
                if byte:
                    sock.sendall(byte)
            except (BrokenPipeError, ConnectionResetError):
                break
        return time.monotonic() - started


def test_headers_that_trickle_in_are_cut_off_while_normal_requests_are_served(serve, sqlite_url) -> None:
    server = serve(csbot_env(sqlite_url))
    trickle = b"X-Slow: " + b"a" * 100
    full_request = b"GET /healthz HTTP/1.1\r\nHost: csbot\r\n\r\n"
    with ThreadPoolExecutor(4) as pool:
        slow = pool.submit(seconds_until_closed, server, b"GET /healthz HTTP/1.1\r\nHost: csbot\r\n", trickle)
        silent = pool.submit(seconds_until_closed, server, b"")
        # After a complete request and its response, the next request's headers are due too.
        after_response = pool.submit(seconds_until_closed, server, full_request + b"G", trickle)
        time.sleep(2)
        for _ in range(5):  # meanwhile, ordinary requests are served at once
            response = httpx.get(server.url + "/healthz", timeout=5)
            assert response.status_code == 200
            assert response.elapsed.total_seconds() < 2
        for name, future in [("slow", slow), ("silent", silent), ("after a response", after_response)]:
            took = future.result()
            assert HEADER_TIMEOUT_SECONDS - 1 <= took <= HEADER_TIMEOUT_SECONDS + SLACK_SECONDS, (name, took)
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert server.alive()


def test_connections_over_the_limit_are_answered_503_at_once(serve, sqlite_url) -> None:
    server = serve(csbot_env(sqlite_url))
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(1)  # let the server accept them all
        response = httpx.get(server.url + "/healthz", timeout=5)
        assert response.status_code == 503
        assert response.headers.get("connection") == "close"
    finally:
        for sock in idle:
            sock.close()
    time.sleep(1)
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
