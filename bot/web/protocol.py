"""How uvicorn serves connections: a bound on the time to receive a request's headers, and
on the number of open connections.

uvicorn has no header timeout of its own: its keep-alive timer runs only between requests
and stops at the first byte received, so a client that sends its headers a byte at a time
keeps a connection open for as long as it likes, and a few hundred such clients hold the
service (the "slowloris" attack). HeaderTimeoutH11Protocol closes a connection whose
request line and headers have not all arrived HEADER_TIMEOUT_SECONDS after it opened, or
after the previous response on it. Behind the reverse proxy (deploy/nginx/csbot.conf) nginx
bounds clients first; this bound protects a service reached directly.

It extends uvicorn's h11 protocol, so `csbot serve` pins `http=` to it rather than to
"auto", which would pick httptools when installed: h11 exposes where the parser is in a
request (`their_state`), which is what the timer needs, and parsing is not this service's
bottleneck (the database is).

These are constants rather than settings: they bound misbehaving clients, and no honest
client (Twilio, Telegram, a proxy, a browser opening a document link) comes near them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

# The request line and headers must arrive within this time (nginx's client_header_timeout
# is 60 s by default; webhook senders send a whole request at once).
HEADER_TIMEOUT_SECONDS = 10.0
# Open connections per process: over this, uvicorn answers 503 at once (and closes) rather
# than queueing work the database pool (10 + 10 connections) could not serve in time anyway.
MAX_CONNECTIONS = 200
# Connections the kernel may hold before the process accepts them (nginx's default).
BACKLOG = 511


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's H11Protocol, closing a connection that leaves a request's headers
    incomplete for longer than `header_timeout`."""

    header_timeout: float = HEADER_TIMEOUT_SECONDS
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as H11Protocol's own
        super().connection_made(transport)
        self._start_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._request_in_progress():
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        # The next request's headers are due from now. Start the timer first: super() may
        # go straight on to a pipelined request, and then it is stopped again below.
        if not self.transport.is_closing():
            self._start_header_timer()
        super().on_response_complete()
        if self._request_in_progress():
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    # --- the timer -----------------------------------------------------------------------

    def _request_in_progress(self) -> bool:
        """A request's headers have arrived and its response is not complete yet."""
        return self.cycle is not None and not self.cycle.response_complete

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout_expired)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout_expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._request_in_progress():
            return
        # Debug only: an attacker opening connections must not also fill the log.
        log.debug("closed a connection that sent no complete request headers in %s s", self.header_timeout)
        try:
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass
        self.transport.close()


def connection_limits() -> dict[str, Any]:
    """uvicorn's options for the above (for uvicorn.run)."""
    return {
        "http": HeaderTimeoutH11Protocol,
        "ws": "none",  # no WebSocket route: an Upgrade request is served as plain HTTP
        "limit_concurrency": MAX_CONNECTIONS,
        "backlog": BACKLOG,
    }
