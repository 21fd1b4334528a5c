"""The desk's session: a cookie signed by Starlette's SessionMiddleware (itsdangerous), holding
only the user's id, their `session_version`, the CSRF token and when the user was last seen.

- HttpOnly always, SameSite=Strict, Secure when CSBOT_DESK_URL is https, path /staff.
- Its key is derived from CSBOT_SECRET_KEY with HMAC-SHA256 and a label of its own, so the desk
  never signs with the raw key that hashes SSNs and PINs.
- Idle timeout (30 minutes) is checked here, on the server, against `seen`: a cookie replayed
  later is refused even if the browser kept it. The signature's own age limit is a second bound.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from bot.config import Settings

COOKIE_NAME = "csbot_desk"
COOKIE_PATH = "/staff"
IDLE_TIMEOUT = dt.timedelta(minutes=30)
_KEY_LABEL = b"csbot staff desk session cookie v1"


def cookie_key(settings: Settings) -> str:
    return hmac.new(settings.require_secret_key(), _KEY_LABEL, hashlib.sha256).hexdigest()


def cookie_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for SessionMiddleware."""
    return {
        "secret_key": cookie_key(settings),
        "session_cookie": COOKIE_NAME,
        "max_age": int(IDLE_TIMEOUT.total_seconds()),
        "path": COOKIE_PATH,
        "same_site": "strict",
        "https_only": settings.desk_secure_cookies,
    }


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use (before sign-in too: the sign-in form has one)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_matches(session: dict[str, Any], submitted: object) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def start(session: dict[str, Any], user_id: int, version: int, now: dt.datetime) -> None:
    """A fresh session for a signed-in user: a new CSRF token, nothing kept from before."""
    session.clear()
    session.update(uid=user_id, ver=version, seen=int(now.timestamp()), csrf=secrets.token_urlsafe(32))


def end(session: dict[str, Any]) -> None:
    session.clear()


def still_fresh(session: dict[str, Any], now: dt.datetime) -> bool:
    """Seen within the idle timeout; then `seen` moves to now."""
    seen = session.get("seen")
    if not isinstance(seen, int):
        return False
    if now - dt.datetime.fromtimestamp(seen, dt.UTC) > IDLE_TIMEOUT:
        return False
    session["seen"] = int(now.timestamp())
    return True
