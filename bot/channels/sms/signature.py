"""Twilio's request signatures, for every Twilio webhook (messages, status callbacks).

Twilio signs the public URL it was given (CSBOT_PUBLIC_URL + the path, query included) and the
posted parameters with the auth token; behind a TLS proxy the app sees another URL, so the
configured one is what is checked."""

from __future__ import annotations

import urllib.parse

from starlette.datastructures import MultiDict
from starlette.requests import Request
from twilio.request_validator import RequestValidator

_SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def signature_ok(
    validator: RequestValidator, signed_url: str, request: Request, params: MultiDict, signature: str
) -> bool:
    url = signed_url
    if request.url.query:  # Twilio signs the full URL it was given, query included
        url += "?" + request.url.query
    algorithm = signature_algorithm(request.headers.get(_SIGNATURE_SETTINGS_HEADER))
    try:
        if algorithm is None:
            return bool(validator.validate(url, params, signature))
        return bool(validator.validate(url, params, signature, algorithm=algorithm))
    except Exception:  # a malformed signature must be a 403, not a 500
        return False


def parse_form(body: bytes) -> MultiDict | None:
    """The posted form, or None when it is not UTF-8 application/x-www-form-urlencoded."""
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return MultiDict(pairs)


def signature_algorithm(settings_header: str | None) -> str | None:
    """The algorithm named by X-Twilio-Webhooks-Signature-Settings, when twilio supports it."""
    if not settings_header:
        return None
    from twilio import request_validator

    pick = getattr(request_validator, "get_signature_algorithm", None)
    return pick(settings_header) if pick is not None else None
