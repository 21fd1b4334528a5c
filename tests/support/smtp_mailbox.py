"""A real SMTP mailbox for tests (an aiosmtpd handler that keeps every message received)."""

from __future__ import annotations

import threading


class Mailbox:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(envelope.original_content)
        return "250 OK"
