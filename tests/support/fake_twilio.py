"""A local stand-in for Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json),
a standard-library HTTP server in a thread. It checks HTTP basic auth (account SID, auth
token), records each accepted message's form, answers 201 with a `sid`, and on demand answers
the next calls with 500, 429 with Retry-After, or 400 with Twilio's error JSON (e.g. 21610).

    with FakeTwilio(sid, token) as twilio:   # TWILIO_API_BASE_URL = twilio.base_url
        twilio.fail_next(429, retry_after=7); ...; twilio.messages -> [{"To": ..., "Body": ...}]
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, str]] = []
        self.arrivals: list[float] = []  # time.monotonic() of every request
        self._faults: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self._lock = threading.Lock()
        self._counter = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, *, code: int | None = None, retry_after: int | None = None) -> None:
        body: dict[str, Any] = {"status": status, "message": "stand-in failure", "more_info": ""}
        if code is not None:
            body["code"] = code
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self._faults.append((status, body, headers))

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(request.rfile.read(length).decode("utf-8")))
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        with self._lock:
            self.arrivals.append(time.monotonic())
            if request.headers.get("Authorization") != expected:
                status, body, headers = 401, {"code": 20003, "message": "Authenticate", "status": 401}, {}
            elif request.path != path:
                status, body, headers = 404, {"code": 20404, "message": "Not found", "status": 404}, {}
            elif self._faults:
                status, body, headers = self._faults.pop(0)
            else:
                self._counter += 1
                sid = f"SM{self._counter:032x}"
                self.messages.append(form)
                status, headers = 201, {}
                body = {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                        "body": form.get("Body"), "account_sid": self.account_sid}
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)
