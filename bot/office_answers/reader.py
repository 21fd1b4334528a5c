"""The reply reader: polls the reply mailbox (CSBOT_REPLY_TO, read over IMAP) and records each
office's answer. It runs inside `csbot serve` and `csbot worker` when CSBOT_IMAP_HOST is set.

For each unseen, unflagged mail: refuse it when over the size limit (not even fetched), match
it to its office message (bot/office_answers/reply_mail.py), accept it only from the address
of the office the message went to, and record the answer (bot/office_answers/record.py, one
transaction with the parent's notice). Recorded mail is marked \\Seen; anything else is flagged
and left for staff (`csbot office-messages unmatched`). Each outcome is logged, never a mail's
text. The server going away is retried with doubling waits up to 5 minutes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import imaplib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.routing import BaseRoute

from bot.background import stop_within
from bot.clock import utcnow
from bot.office_answers.imap import Mailbox, MailboxError
from bot.office_answers.record import AnswerProblem, find_message, record_answer
from bot.office_answers.reply_mail import parse
from bot.runtime import Runtime
from bot.store.models import Office, OfficeAnswer

log = logging.getLogger("csbot.office_answers")

RECORDED = "recorded"
ALREADY_RECORDED = "already recorded"


@dataclass(frozen=True)
class ReaderPolicy:
    poll_interval: float = 30.0  # seconds between looks at the mailbox
    backoff_cap: float = 300.0  # the longest wait after the server went away
    max_mail_bytes: int = 5 * 1024 * 1024  # larger mail is refused unread (attachments, mostly)
    timeout: float = 30.0  # seconds, per IMAP operation


@dataclass(frozen=True)
class MailOutcome:
    outcome: str  # RECORDED, ALREADY_RECORDED, or why the mail is left flagged
    reference: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome in (RECORDED, ALREADY_RECORDED)


def handle_mail(runtime: Runtime, raw: bytes, now: dt.datetime, uid: int = 0) -> MailOutcome:
    """Match, check and record one reply mail; log its outcome (never its text)."""
    mail = parse(raw)
    if mail.automatic:
        return _logged(uid, MailOutcome("automatic reply"), "an autoresponder's mail is never an answer")
    if not mail.references:
        return _logged(uid, MailOutcome("no reference"), "no office message reference in its headers or subject")
    with runtime.write() as session:
        message = None
        for reference in mail.references:
            message = find_message(session, reference)
            if message is not None:
                break
        if message is None:
            return _logged(uid, MailOutcome("unknown reference"), f"no office message {', '.join(mail.references)}")
        reference = message.reference
        office = session.get(Office, message.office_code)
        if office is None or not office.email or office.email.strip().lower() != mail.sender:
            return _logged(
                uid, MailOutcome("wrong sender", reference),
                f"sent by {mail.sender or 'no address'}, not by office {message.office_code}'s own address",
                level=logging.WARNING,
            )
        if mail.message_id and session.scalar(
            select(OfficeAnswer.id).where(OfficeAnswer.mail_message_id == mail.message_id)
        ):
            return _logged(uid, MailOutcome(ALREADY_RECORDED, reference), "this mail's answer is on file already")
        if not mail.text:
            why = "no text in the mail" if not mail.html_only else "no text in the mail's HTML"
            return _logged(uid, MailOutcome("no text", reference), why)
        try:
            recorded = record_answer(
                session, message, text=mail.text, source="mail", author=mail.sender, now=now,
                sms_encoding=runtime.settings.sms_encoding, mail_message_id=mail.message_id,
            )
        except AnswerProblem as problem:
            why = "too long" if "long" in str(problem) else "no text"
            return _logged(uid, MailOutcome(why, reference), str(problem))
        notes = [f"notice: {recorded.notice}"]
        if mail.html_only:
            notes.append("HTML converted to text")
        if mail.attachments:
            notes.append(f"{mail.attachments} attachment(s) not forwarded")
        outcome = MailOutcome(RECORDED, reference)
    return _logged(uid, outcome, f"answer from office {message.office_code}; " + "; ".join(notes))


def _logged(uid: int, outcome: MailOutcome, detail: str, level: int = logging.INFO) -> MailOutcome:
    what = outcome.outcome if outcome.accepted else f"left flagged ({outcome.outcome})"
    log.log(level, "reply mail %d%s: %s: %s", uid, f" for {outcome.reference}" if outcome.reference else "",
            what, detail)
    return outcome


@dataclass
class PassResult:
    recorded: int = 0
    flagged: int = 0


def read_once(runtime: Runtime, policy: ReaderPolicy, clock: Callable[[], dt.datetime] = utcnow) -> PassResult:
    """One pass over the mailbox (synchronous: for a thread, a test or a script)."""
    result = PassResult()
    with Mailbox(runtime.settings, policy.timeout) as mailbox:
        for uid in mailbox.to_read():
            size = mailbox.size(uid)
            if size > policy.max_mail_bytes:
                outcome = _logged(uid, MailOutcome("too large"),
                                  f"{size} bytes, over the {policy.max_mail_bytes}-byte limit; not read")
            else:
                try:
                    outcome = handle_mail(runtime, mailbox.fetch(uid), clock(), uid)
                except IntegrityError:  # another reader recorded the same mail just now
                    outcome = _logged(uid, MailOutcome(ALREADY_RECORDED), "recorded by another reader")
            if outcome.accepted:
                mailbox.mark_seen(uid)
                result.recorded += outcome.outcome == RECORDED
            else:
                mailbox.flag(uid, outcome.outcome)
                result.flagged += 1
    return result


@dataclass
class ReplyReader:
    runtime: Runtime
    policy: ReaderPolicy = field(default_factory=ReaderPolicy)
    clock: Callable[[], dt.datetime] = utcnow

    def __post_init__(self) -> None:
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.passes = 0  # completed passes, for tests and the log

    async def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                await anyio.to_thread.run_sync(read_once, self.runtime, self.policy, self.clock)
                if failures:
                    log.info("reply mailbox reachable again after %d failed attempt(s)", failures)
                failures = 0
                self.passes += 1
                pause = self.policy.poll_interval
            except (OSError, imaplib.IMAP4.error, MailboxError) as exc:
                failures += 1
                pause = min(self.policy.backoff_cap, self.policy.poll_interval * 2 ** min(failures, 16))
                log.warning("reply mailbox %s:%d not read (%s); trying again in %.0f s",
                            self.runtime.settings.imap_host, self.runtime.settings.imap_port,
                            type(exc).__name__, pause)
            except Exception as exc:  # the database, say: keep the reader alive
                failures += 1
                pause = min(self.policy.backoff_cap, self.policy.poll_interval * 2 ** min(failures, 16))
                log.warning("reply mailbox pass failed (%s); trying again in %.0f s", type(exc).__name__, pause)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=pause)
            except TimeoutError:
                pass

    async def start(self) -> None:
        settings = self.runtime.settings
        log.info("reading answers from the reply mailbox %s on %s:%d", settings.imap_mailbox,
                 settings.imap_host, settings.imap_port)
        self._stop.clear()
        self._task = asyncio.create_task(self.run(), name="csbot-reply-reader")

    async def stop(self, grace: float = 40.0) -> None:
        self._stop.set()
        task, self._task = self._task, None
        await stop_within(task, grace, "reply reader", log)


class ReplyReaderComponent:
    """The reader as a background part of `csbot serve` (no routes)."""

    def __init__(self, runtime: Runtime, policy: ReaderPolicy | None = None) -> None:
        self.routes: list[BaseRoute] = []
        self.reader = ReplyReader(runtime, policy=policy or ReaderPolicy())

    async def startup(self) -> None:
        await self.reader.start()

    async def shutdown(self) -> None:
        await self.reader.stop()


def reply_reader_component(runtime: Runtime) -> ReplyReaderComponent | None:
    return ReplyReaderComponent(runtime) if runtime.settings.imap_enabled else None
