"""A minimal, fast stand-in for the Telegram Bot API, for bench_webhook.py --channel telegram.

    python bench/fake_bot_api.py --port 8999

Plain asyncio HTTP/1.1 with keep-alive, no framework, so it answers in microseconds and is
never the limit of a benchmark: every `POST /bot<token>/<method>` gets `{"ok": true, ...}`
(getMe a bot user, sendMessage/sendDocument/sendPhoto a message, anything else `true`).
`GET /stats` returns the number of calls per method and how many sendMessage texts contained
the text given by --count-text, so the benchmark can check that every update was answered, and
`GET /stats/last-reply?chat=ID` the wall-clock time its last sendMessage for that chat arrived
(for the time from an update to its reply). `--delay SECONDS` answers every call that late,
like a slow Bot API.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
import urllib.parse

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "csbot bench", "username": "csbot_bench_bot",
            "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


class Stats:
    def __init__(self, count_text: str) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.count_text = count_text
        self.matching_texts = 0
        self.message_ids = 0
        self.last_reply: dict[int, float] = {}


def _answer(stats: Stats, method: str, body: bytes, content_type: str) -> dict:
    stats.calls[method] += 1
    if method == "getMe":
        return {"ok": True, "result": BOT_USER}
    if method in ("sendMessage", "sendDocument", "sendPhoto"):
        params: dict[str, str] = {}
        if "x-www-form-urlencoded" in content_type:
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        elif "json" in content_type:
            params = {k: str(v) for k, v in json.loads(body or b"{}").items()}
        if method == "sendMessage" and stats.count_text and stats.count_text in params.get("text", ""):
            stats.matching_texts += 1
        stats.message_ids += 1
        chat_id = int(params.get("chat_id", "1") or 1)
        if method == "sendMessage":
            stats.last_reply[chat_id] = time.time()
        message = {"message_id": stats.message_ids, "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private"}, "text": params.get("text", "")}
        return {"ok": True, "result": message}
    return {"ok": True, "result": True}


async def _serve_connection(
    stats: Stats, delay: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method_line, headers = lines[0], {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            verb, path, _ = method_line.split(" ", 2)
            if verb == "GET" and path == "/stats":
                payload = {"calls": dict(stats.calls), "matching_texts": stats.matching_texts}
            elif verb == "GET" and path.startswith("/stats/last-reply?chat="):
                payload = {"at": stats.last_reply.get(int(path.rsplit("=", 1)[1]))}
            else:
                if delay:
                    await asyncio.sleep(delay)
                api_method = path.rstrip("/").rsplit("/", 1)[-1]
                payload = _answer(stats, api_method, body, headers.get("content-type", ""))
            data = json.dumps(payload).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(data)).encode() + b"\r\n\r\n" + data)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, count_text: str, delay: float) -> None:
    stats = Stats(count_text)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(stats, delay, r, w), "127.0.0.1", port, limit=4 << 20
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count-text", default="")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every Bot API answer")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.count_text, args.delay))
