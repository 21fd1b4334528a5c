"""A small local Telegram Bot API server for tests, run by uvicorn in a background thread.

It answers the methods csbot uses (getMe, setWebhook, deleteWebhook, setMyCommands,
sendMessage, sendDocument, sendPhoto, deleteMessage, answerCallbackQuery, sendChatAction,
getUpdates) the way Telegram does (`{"ok": true, "result": ...}`), records every call with
its parameters and uploaded files, and can be told to answer one call with 429 and a
retry_after, as Telegram's flood control does, to fail a method with another HTTP status
(`fail`: 500, or 403 "bot was blocked by the user", 400), to answer slowly (`delay`), to answer a method with a result of the test's choosing (`answer_with`, e.g. a
getMe without `is_bot`), or to hand getUpdates a raw batch once (`push_raw_batch`, e.g. one
python-telegram-bot cannot parse).

    with FakeBotApi(token) as api:
        settings TELEGRAM_API_BASE_URL = api.base_url     # http://127.0.0.1:PORT/bot
        ...
        api.calls_to("sendMessage")  -> [Call(method, params, files, token, status, at)]

python-telegram-bot posts form-encoded parameters (objects such as reply_markup as JSON
strings) or multipart/form-data when it uploads a file; both are decoded here with the
standard library (no python-multipart needed).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOT_USER = {
    "id": 777000111,
    "is_bot": True,
    "first_name": "csbot test",
    "username": "csbot_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    token: str
    status: int  # what the fake answered (200, or 429 for an injected flood limit)
    at: float  # time.monotonic() when it arrived

    def param(self, name: str) -> Any:
        """A parameter decoded from JSON when it is JSON (reply_markup, chat_id...)."""
        value = self.params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass
class _Failure:
    method: str
    retry_after: int
    remaining: int  # -1: every call
    status: int = 429
    skip: int = 0  # calls answered normally before the failures start


@dataclass
class _Answer:
    method: str
    result: Any
    remaining: int  # -1: every call


@dataclass
class FakeBotApi:
    token: str
    host: str = "127.0.0.1"
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._message_ids = itertools.count(5000)
        self._failures: list[_Failure] = []
        self._answers: list[_Answer] = []
        self._raw_batches: list[list[Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._updates_event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.delay = 0.0  # seconds every answer waits (a slow Bot API)

    # --- life cycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL should be (python-telegram-bot appends the token)."""
        return f"http://{self.host}:{self.port}/bot"

    def start(self) -> FakeBotApi:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._no_file, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._updates_event = asyncio.Event()
            loop.call_soon(started.set)
            loop.run_until_complete(self._server.serve(sockets=[sock]))  # type: ignore[union-attr]
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
        self._thread.start()
        started.wait(10)
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Bot API server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test controls ---------------------------------------------------------------------

    def fail_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 Too Many Requests."""
        with self._lock:
            self._failures.append(_Failure(method, retry_after, times))

    def fail(self, method: str, status: int = 500, *, times: int = 1, skip: int = 0) -> None:
        """Answer `times` calls of `method` (-1: every call, until `clear_faults`) with the HTTP
        `status` (500: python-telegram-bot raises NetworkError), after `skip` normal answers."""
        with self._lock:
            self._failures.append(_Failure(method, 0, times, status=status, skip=skip))

    def answer_with(self, method: str, result: Any, *, times: int = -1) -> None:
        """Answer `times` calls of `method` (-1: every call, until `clear_faults`) with
        `{"ok": true, "result": result}`, e.g. a getMe without is_bot."""
        with self._lock:
            self._answers.append(_Answer(method, result, times))

    def clear_faults(self) -> None:
        """Forget every failure and answer set up by fail, fail_next and answer_with."""
        with self._lock:
            self._failures.clear()
            self._answers.clear()

    def push_raw_batch(self, batch: list[Any]) -> None:
        """The next getUpdates answers exactly `batch` (once), parsable or not."""
        with self._lock:
            self._raw_batches.append(batch)
        if self._loop is not None and self._updates_event is not None:
            self._loop.call_soon_threadsafe(self._updates_event.set)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (polling mode)."""
        with self._lock:
            self._updates.append(update)
        if self._loop is not None and self._updates_event is not None:
            self._loop.call_soon_threadsafe(self._updates_event.set)

    def calls_to(self, method: str, *, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [
                c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)
            ]

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls if c.status == 200]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def wait_for(self, predicate: Callable[[FakeBotApi], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls so far: {self.methods()}")
            time.sleep(0.02)

    # --- the API ---------------------------------------------------------------------------

    async def _no_file(self, request: Request) -> JSONResponse:
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)

    async def _endpoint(self, request: Request) -> JSONResponse:
        token = request.path_params["token"]
        method = request.path_params["method"]
        params, files = await _read_parameters(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        status, payload = self._answer(token, method, params)
        if method == "getUpdates" and status == 200 and not payload["result"]:
            payload = await self._long_poll(params)
        with self._lock:
            self.calls.append(Call(method, params, files, token, status, time.monotonic()))
        return JSONResponse(payload, status_code=status)

    def _answer(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        with self._lock:
            for failure in self._failures:
                if failure.method != method or failure.remaining == 0:
                    continue
                if failure.skip > 0:
                    failure.skip -= 1
                    continue
                failure.remaining -= 1 if failure.remaining > 0 else 0
                if failure.status != 429:
                    description = {403: "Forbidden: bot was blocked by the user",
                                   400: "Bad Request: chat not found"}.get(failure.status, "Internal Server Error")
                    return failure.status, {"ok": False, "error_code": failure.status, "description": description}
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {failure.retry_after}",
                    "parameters": {"retry_after": failure.retry_after},
                }
            for answer in self._answers:
                if answer.method == method and answer.remaining != 0:
                    answer.remaining -= 1 if answer.remaining > 0 else 0
                    return 200, {"ok": True, "result": answer.result}
            if method == "getUpdates" and self._raw_batches:
                return 200, {"ok": True, "result": self._raw_batches.pop(0)}
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return 200, {"ok": True, "result": handler(params)}

    async def _long_poll(self, params: dict[str, Any]) -> dict[str, Any]:
        # Wait briefly for an update, as long polling does (capped so tests stay quick).
        timeout = min(float(params.get("timeout") or 0), 1.0)
        if self._updates_event is not None and timeout > 0:
            self._updates_event.clear()
            try:
                await asyncio.wait_for(self._updates_event.wait(), timeout)
            except TimeoutError:
                pass
        return {"ok": True, "result": self._m_getUpdates(params)}

    # Each _m_<method> returns the "result" Telegram would send.

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
            **content,
        }

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, text=params.get("text", ""))

    def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"DOC{next(self._message_ids)}"
        return self._message(
            params,
            document={"file_id": file_id, "file_unique_id": file_id, "mime_type": "application/pdf"},
            caption=params.get("caption", ""),
        )

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"PHO{next(self._message_ids)}"
        return self._message(
            params,
            photo=[{"file_id": file_id, "file_unique_id": file_id, "width": 290, "height": 290}],
            caption=params.get("caption", ""),
        )

    def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        with self._lock:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return list(self._updates)


async def _read_parameters(request: Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    params: dict[str, Any] = dict(request.query_params)
    files: dict[str, UploadedFile] = {}
    if content_type.startswith("application/json") and body:
        params.update(json.loads(body))
    elif content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            data = part.get_payload(decode=True) or b""
            if filename is not None:
                files[name] = UploadedFile(name, filename, part.get_content_type(), data)
            else:
                params[name] = data.decode("utf-8")
    elif body:
        params.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params, files


# --- update builders for tests -------------------------------------------------------------------

_update_ids = itertools.count(100_000)
_inbound_message_ids = itertools.count(10)


def next_update_id() -> int:
    return next(_update_ids)


def text_update(
    chat_id: int,
    text: str,
    *,
    language_code: str | None = "en",
    update_id: int | None = None,
    message_id: int | None = None,
    chat_type: str = "private",
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Test"}
    if language_code:
        user["language_code"] = language_code
    message: dict[str, Any] = {
        "message_id": message_id if message_id is not None else next(_inbound_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": chat_type, "first_name": "Test"},
        "from": user,
        "text": text,
    }
    if text.startswith("/"):
        command_length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": command_length}]
    return {"update_id": update_id if update_id is not None else next_update_id(), "message": message}


def callback_update(
    chat_id: int,
    data: str,
    *,
    language_code: str | None = "en",
    update_id: int | None = None,
    message_id: int = 4999,
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Test"}
    if language_code:
        user["language_code"] = language_code
    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "callback_query": {
            "id": f"cq{next_update_id()}",
            "from": user,
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
                "from": BOT_USER,
                "text": "(an earlier reply with buttons)",
            },
        },
    }
