"""QR codes (PNG, segno) for the web pages a reply points to (dialogs.replies.Link).

The source page shows two QR codes: one to create a NY.gov account, one to sign in and link
the child support account. Telegram sends them as photos with the help reply.
"""

from __future__ import annotations

import io
from functools import lru_cache

import segno


@lru_cache(maxsize=16)
def qr_png(url: str, *, scale: int = 10) -> bytes:
    """A PNG of the QR code for `url` (error correction M, the standard 4-module border)."""
    code = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
