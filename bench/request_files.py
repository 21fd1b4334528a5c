"""The request files that requests.lua replays under wrk: signed Twilio SMS posts, Telegram
updates, and GET /healthz, from SENDERS verified senders in turn.

Every message is distinct (its own MessageSid or update_id): a repeated one is answered
without work and would flatter the figure.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from pathlib import Path

TWILIO_TOKEN = "bench-twilio-auth-token"
# Signatures are checked against the public URL, whatever address wrk connects to.
PUBLIC_URL = "https://bench.csbot.invalid"
SENDERS = 64
TELEGRAM_TOKEN = "4242:bench-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
TELEGRAM_SECRET = "bench-webhook-secret"
TELEGRAM_CHAT_BASE = 700_000_000

Request = tuple[str, str, dict[str, str], str]  # method, path, headers, body


def write_request_file(path: Path, requests: list[Request]) -> None:
    """Requests for requests.lua: one JSON-free record per request, fields split by \\x1f,
    records by \\x1e (neither occurs in a URL-encoded body or in these headers)."""
    with path.open("w", encoding="utf-8") as out:
        for method, request_path, headers, body in requests:
            header_text = "\x1d".join(f"{k}: {v}" for k, v in headers.items())
            out.write("\x1f".join([method, request_path, header_text, body]) + "\x1e")


def sms_sender(n: int) -> str:
    return f"+1646555{n:04d}"


def telegram_chat(n: int) -> int:
    return TELEGRAM_CHAT_BASE + n


def build_sms_requests(path: Path, count: int) -> None:
    """`count` signed "BALANCE" posts, senders in turn, each with a new MessageSid."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TWILIO_TOKEN)
    signed_url = PUBLIC_URL + "/twilio/sms"
    requests = []
    for n in range(count):
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": sms_sender(n % SENDERS),
            "To": "+15185550100",
            "Body": "BALANCE",
            "NumMedia": "0",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(signed_url, params),
        }
        requests.append(("POST", "/twilio/sms", headers, urllib.parse.urlencode(params)))
    write_request_file(path, requests)


def telegram_update(update_id: int, chat: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10 + update_id % 1_000_000, "date": int(time.time()), "text": text,
            "chat": {"id": chat, "type": "private", "first_name": "Parent"},
            "from": {"id": chat, "is_bot": False, "first_name": "Parent", "language_code": "en"},
        },
    }


def build_telegram_requests(path: Path, count: int) -> None:
    """`count` "BALANCE" updates from the SENDERS chats in turn, each with a new update_id."""
    first_id = int(time.time() * 1000) % 10**9 * 100  # distinct from earlier runs on this database
    requests = []
    for n in range(count):
        update = telegram_update(first_id + n, telegram_chat(n % SENDERS), "BALANCE")
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        requests.append(("POST", "/telegram/webhook", headers, json.dumps(update, separators=(",", ":"))))
    write_request_file(path, requests)


def build_health_request(path: Path) -> None:
    write_request_file(path, [("GET", "/healthz", {}, "")])
