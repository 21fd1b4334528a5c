"""QR codes (PNG, segno) for the NY.gov pages the source page points parents to.

The source page shows two QR codes: one to create a NY.gov account, one to sign in and link
the child support account. Telegram sends them as photos with the help reply; the URLs are
the same ones the dialogs print (dialogs.context.Policy), so text and picture never differ.
"""

from __future__ import annotations

import io
from functools import lru_cache

import segno

from dialogs.context import Policy

# Public pages (not settings yet: the interface has no variable for them).
REGISTRATION_URL: str = Policy.register_url
SIGNIN_URL: str = Policy.signin_url


@lru_cache(maxsize=16)
def qr_png(url: str, *, scale: int = 10) -> bytes:
    """A PNG of the QR code for `url` (error correction M, the standard 4-module border)."""
    code = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def registration_qr() -> bytes:
    return qr_png(REGISTRATION_URL)


def signin_qr() -> bytes:
    return qr_png(SIGNIN_URL)
