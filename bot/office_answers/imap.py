"""The reply mailbox over IMAP, with the standard library's imaplib (synchronous: the reader
runs it in a thread). Port 993 is implicit TLS; otherwise CSBOT_IMAP_STARTTLS=true requires
STARTTLS (certificate checked), false is plain IMAP (loopback or a network you control).

Mails are addressed by UID. A processed mail is marked \\Seen; one that is refused or matches
nothing is marked \\Flagged (plus a `csbot-…` keyword naming why, where the server keeps
keywords) and left for staff, so the next pass, which looks at UNSEEN UNFLAGGED mail only,
does not read it again.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr

from bot.config import Settings
from bot.errors import ConfigError

IMAP_VARIABLES = "CSBOT_IMAP_HOST, CSBOT_IMAP_PORT, CSBOT_IMAP_USER, CSBOT_IMAP_PASSWORD, CSBOT_IMAP_STARTTLS"
KEYWORD_PREFIX = "csbot-"
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")


class MailboxError(Exception):
    """The server refused a command (as opposed to going away: OSError, imaplib.IMAP4.abort)."""


@dataclass(frozen=True)
class FlaggedMail:
    uid: int
    date: str
    sender: str
    subject: str
    reason: str


class Mailbox:
    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        if not settings.imap_host:
            raise ConfigError(f"CSBOT_IMAP_HOST is not set (set {IMAP_VARIABLES})")
        self._settings = settings
        self._timeout = timeout
        self._imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> Mailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        s = self._settings
        host = s.imap_host or ""
        if s.imap_port == 993:
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, s.imap_port, ssl_context=ssl.create_default_context(), timeout=self._timeout
            )
        else:
            imap = imaplib.IMAP4(host, s.imap_port, timeout=self._timeout)
            if s.imap_starttls:
                imap.starttls(ssl.create_default_context())
        self._imap = imap
        if s.imap_user:
            self._ok(imap.login(s.imap_user, s.imap_password or ""), "LOGIN")
        self._ok(imap.select(_quoted(s.imap_mailbox)), "SELECT")

    def close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass

    @property
    def imap(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise MailboxError("not connected")
        return self._imap

    def _ok(self, answer: tuple[str, Sequence[object]], command: str) -> Sequence[object]:
        status, data = answer
        if status != "OK":
            raise MailboxError(f"IMAP {command} refused: {_first_text(data)}")
        return data

    def search(self, criteria: str) -> list[int]:
        data = self._ok(self.imap.uid("SEARCH", criteria), "SEARCH")
        first = data[0] if data and isinstance(data[0], bytes) else b""
        return [int(uid) for uid in first.split()]

    def to_read(self) -> list[int]:
        return self.search("UNSEEN UNFLAGGED")

    def size(self, uid: int) -> int:
        data = self._ok(self.imap.uid("FETCH", str(uid), "(RFC822.SIZE)"), "FETCH")
        for item in data:
            found = _SIZE.search(item if isinstance(item, bytes) else b"")
            if found:
                return int(found.group(1))
        raise MailboxError(f"no size for mail {uid}")

    def fetch(self, uid: int) -> bytes:
        """The whole mail, without setting \\Seen (BODY.PEEK)."""
        data = self._ok(self.imap.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise MailboxError(f"mail {uid} is gone")

    def mark_seen(self, uid: int) -> None:
        self._ok(self.imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen)"), "STORE")

    def flag(self, uid: int, reason: str) -> None:
        """\\Flagged, and the reason as a keyword when the server keeps keywords."""
        self._ok(self.imap.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)"), "STORE")
        keyword = KEYWORD_PREFIX + re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-")
        try:
            self.imap.uid("STORE", str(uid), "+FLAGS", f"({keyword})")
        except imaplib.IMAP4.error:
            pass  # no keywords here: the mail is flagged all the same

    def flagged(self) -> list[FlaggedMail]:
        """Flagged mail (what csbot left for staff, and anything staff flagged)."""
        mails = []
        for uid in self.search("FLAGGED"):
            data = self._ok(
                self.imap.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])"), "FETCH"
            )
            header, flags = b"", b""
            for item in data:
                if isinstance(item, tuple):
                    flags += item[0] if isinstance(item[0], bytes) else b""
                    header = item[1] if isinstance(item[1], bytes) else header
                elif isinstance(item, bytes):
                    flags += item
            headers = email.message_from_bytes(header, policy=email.policy.default)
            found = _FLAGS.search(flags)
            keywords = [
                word[len(KEYWORD_PREFIX):]
                for word in (found.group(1).decode("ascii", "replace").split() if found else [])
                if word.startswith(KEYWORD_PREFIX)
            ]
            mails.append(
                FlaggedMail(
                    uid=uid,
                    date=str(headers.get("Date", "")),
                    sender=parseaddr(str(headers.get("From", "")))[1],
                    subject=str(headers.get("Subject", "")),
                    reason=", ".join(keywords).replace("-", " ") or "flagged",
                )
            )
        return mails


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _first_text(data: Sequence[object]) -> str:
    first = data[0] if data else b""
    return first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
