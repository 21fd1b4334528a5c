"""The outbox worker: delivers parents' messages to their offices by SMTP, never losing one.

Life of an office message (table `office_messages`):

    queued --claim--> sending --sent--> sent
      ^                  |  \\--failure, attempts left--> queued (next_attempt_at = backoff)
      |                  |   \\--failure, no attempts left, or refused--> failed
      |                  \\--lease expired (worker crashed)--> claimable again
      +---- `csbot office-messages retry` (staff) <---- failed

Claiming takes a small batch in one short transaction: `FOR UPDATE SKIP LOCKED` on PostgreSQL,
so concurrent workers each get different rows; on SQLite the transaction itself is exclusive
(BEGIN IMMEDIATE). A claim sets a lease (`claimed_until`); the mail is sent outside any
transaction, then the row is marked. A worker that dies between sending and marking leaves the
row "sending" until its lease expires and another worker sends it again: at-least-once
delivery, with the same Message-ID so the office's mail system can drop the duplicate.

Database work is synchronous SQLAlchemy, run in worker threads so the event loop (shared with
the webhooks under `csbot serve`) never blocks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import signal
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiosmtplib
import anyio.to_thread
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from bot.config import Settings
from bot.errors import ConfigError
from bot.mail import OfficeMail, compose, sender_address
from bot.runtime import Runtime, open_runtime
from bot.store.dialect import is_sqlite
from bot.store.models import Office, OfficeMessage, Person

log = logging.getLogger("csbot.outbox")

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
SMTP_VARIABLES = (
    "CSBOT_SMTP_HOST, CSBOT_SMTP_PORT, CSBOT_SMTP_USER, CSBOT_SMTP_PASSWORD, "
    "CSBOT_SMTP_STARTTLS, CSBOT_SMTP_FROM"
)
_ERROR_LIMIT = 500  # the column's width


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class OutboxPolicy:
    """Timing of claims and retries. The defaults ride out about two to five hours of SMTP
    outage before a message is marked failed (full jitter makes each wait random)."""

    batch_size: int = 5
    # Longer than a whole batch can take (batch_size sends, each bounded by smtp_timeout).
    lease: dt.timedelta = dt.timedelta(minutes=5)
    max_attempts: int = 10
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    poll_interval: float = 5.0  # seconds between looks at the queue when idle
    smtp_timeout: float = 30.0  # seconds, per SMTP operation

    def __post_init__(self) -> None:
        if self.lease <= dt.timedelta(seconds=3 * self.smtp_timeout):
            raise ValueError("the lease must be longer than three SMTP timeouts")

    def backoff_ceiling(self, attempts: int) -> dt.timedelta:
        """The longest wait after the `attempts`-th failed attempt (1-based)."""
        exponent = min(max(attempts - 1, 0), 32)  # 2**32 * base is far past any cap
        return min(self.backoff_cap, self.backoff_base * (2**exponent))

    def backoff(self, attempts: int, rng: random.Random) -> dt.timedelta:
        """Full jitter: uniform between 0 and the exponential ceiling, so workers that failed
        together (an outage) do not all come back at the same instant."""
        ceiling = self.backoff_ceiling(attempts).total_seconds()
        return dt.timedelta(seconds=max(1.0, rng.uniform(0.0, ceiling)))


@dataclass(frozen=True)
class Claimed:
    """One claimed message: its fencing values plus the mail to send (None if the office or
    person is gone, which fails the attempt)."""

    id: int
    reference: str
    attempts: int
    office_code: str
    claimed_until: dt.datetime
    mail: OfficeMail | None
    problem: str | None = None


@dataclass
class DeliveryResult:
    sent: int = 0
    failed_attempts: int = 0
    connection_failed: bool = False
    released: int = 0
    not_sent_ids: list[int] = field(default_factory=list)


class DeliveryError(Exception):
    """One message could not be delivered; `permanent` means retrying will not help."""

    def __init__(self, description: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(description)
        self.description = description
        self.permanent = permanent
        self.connection = connection


# --- database steps (sync; run in a thread) --------------------------------------------------


def count_waiting(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(OfficeMessage).where(
            OfficeMessage.status.in_((QUEUED, SENDING))
        )
    ) or 0


def claim_batch(
    runtime: Runtime,
    now: dt.datetime,
    policy: OutboxPolicy,
    exclude: Sequence[int] = (),
) -> list[Claimed]:
    """Claim up to batch_size due messages in one short transaction and read what the mail
    needs. Due means queued and next_attempt_at has come, or sending with an expired lease."""
    due = or_(
        and_(OfficeMessage.status == QUEUED, OfficeMessage.next_attempt_at <= now),
        and_(OfficeMessage.status == SENDING, OfficeMessage.claimed_until <= now),
    )
    query = select(OfficeMessage).where(due)
    if exclude:
        query = query.where(OfficeMessage.id.not_in(list(exclude)))
    query = query.order_by(OfficeMessage.next_attempt_at, OfficeMessage.id).limit(
        policy.batch_size
    )
    if not is_sqlite(runtime.db):
        # Rows another worker holds are skipped, not waited for; SQLite's BEGIN IMMEDIATE
        # already makes this whole transaction exclusive (and has no FOR UPDATE).
        query = query.with_for_update(skip_locked=True, of=OfficeMessage)
    claimed: list[Claimed] = []
    with runtime.sessions.begin() as session:
        rows = list(session.scalars(query))
        for row in rows:
            row.status = SENDING
            row.attempts += 1
            row.claimed_until = now + policy.lease
        session.flush()
        for row in rows:
            claimed.append(_snapshot(session, row))
    return claimed


def _snapshot(session: Session, row: OfficeMessage) -> Claimed:
    office = session.get(Office, row.office_code)
    person = session.get(Person, row.person_id)
    problem = None
    mail = None
    if office is None:
        problem = f"office {row.office_code} is not on file"
    elif not office.email:
        problem = f"office {row.office_code} has no email address on file"
    elif person is None:
        problem = f"person {row.person_id} is not on file"
    else:
        mail = OfficeMail(
            reference=row.reference,
            case_number=row.case_number,
            office_name=office.name,
            office_email=office.email,
            person_id=person.id,
            first_name=person.first_name,
            last_name=person.last_name,
            role=row.role,
            channel=row.channel,
            sender=row.sender,
            body=row.body,
            created_at=row.created_at,
        )
    return Claimed(
        id=row.id,
        reference=row.reference,
        attempts=row.attempts,
        office_code=row.office_code,
        claimed_until=row.claimed_until,  # type: ignore[arg-type]
        mail=mail,
        problem=problem,
    )


def mark_sent(runtime: Runtime, item: Claimed, now: dt.datetime) -> None:
    # No attempts fence here: the mail did go out, whoever holds the claim now.
    with runtime.sessions.begin() as session:
        session.execute(
            update(OfficeMessage)
            .where(OfficeMessage.id == item.id, OfficeMessage.status == SENDING)
            .values(status=SENT, sent_at=now, claimed_until=None, last_error=None)
        )


def mark_failed_attempt(
    runtime: Runtime,
    item: Claimed,
    now: dt.datetime,
    error: str,
    *,
    permanent: bool,
    policy: OutboxPolicy,
    rng: random.Random,
) -> str:
    """Record a failed attempt: back to queued after a backoff, or failed. Returns the status.
    Fenced on (status, attempts) so a worker whose lease ran out never overwrites the claim
    of the worker that took the message over."""
    if permanent or item.attempts >= policy.max_attempts:
        values: dict[str, object] = {"status": FAILED}
    else:
        values = {"status": QUEUED, "next_attempt_at": now + policy.backoff(item.attempts, rng)}
    values.update(claimed_until=None, last_error=error[:_ERROR_LIMIT])
    with runtime.sessions.begin() as session:
        session.execute(
            update(OfficeMessage)
            .where(
                OfficeMessage.id == item.id,
                OfficeMessage.status == SENDING,
                OfficeMessage.attempts == item.attempts,
            )
            .values(**values)
        )
    return str(values["status"])


def release(runtime: Runtime, items: Sequence[Claimed], now: dt.datetime) -> None:
    """Give back claimed messages that were never tried (shutdown): no attempt is spent and
    another worker may take them at once."""
    if not items:
        return
    with runtime.sessions.begin() as session:
        for item in items:
            session.execute(
                update(OfficeMessage)
                .where(
                    OfficeMessage.id == item.id,
                    OfficeMessage.status == SENDING,
                    OfficeMessage.attempts == item.attempts,
                )
                .values(
                    status=QUEUED,
                    attempts=item.attempts - 1,
                    next_attempt_at=now,
                    claimed_until=None,
                )
            )


# --- SMTP ------------------------------------------------------------------------------------


def _scrub(text: str, settings: Settings) -> str:
    """A short, one-line error description that never quotes a secret."""
    text = " ".join(str(text).split())
    for secret in (settings.smtp_password, settings.secret_key):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:_ERROR_LIMIT]


def describe_smtp_error(exc: BaseException, settings: Settings) -> DeliveryError:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return DeliveryError(
            _scrub(f"SMTP recipient refused: {text}", settings),
            permanent=bool(codes) and all(500 <= c < 600 for c in codes),
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # A configuration problem: retrying after the operator fixes it will work.
        return DeliveryError(
            _scrub(f"SMTP login to {where} refused: {exc.code} {exc.message}", settings),
            connection=True,
        )
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError)):
        return DeliveryError(
            _scrub(f"cannot connect to SMTP server {where}: {exc}", settings), connection=True
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return DeliveryError(
            _scrub(f"SMTP server {where} disconnected: {exc}", settings), connection=True
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryError(
            _scrub(f"SMTP server {where}: {exc}", settings), connection=True
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(_scrub(f"SMTP {exc.code}: {exc.message}", settings))
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return DeliveryError(_scrub(f"SMTP server {where} timed out", settings), connection=True)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(
            _scrub(f"TLS with SMTP server {where} failed: {exc}", settings), connection=True
        )
    if isinstance(exc, OSError):
        return DeliveryError(
            _scrub(f"cannot connect to SMTP server {where}: {exc}", settings), connection=True
        )
    return DeliveryError(_scrub(f"SMTP error: {type(exc).__name__}: {exc}", settings))


def smtp_client(settings: Settings, timeout: float) -> aiosmtplib.SMTP:
    implicit_tls = settings.smtp_port == 465  # SMTPS: TLS from the first byte
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user or None,
        password=settings.smtp_password if settings.smtp_user else None,
        use_tls=implicit_tls,
        # true: STARTTLS is required (and the certificate checked); false: plain SMTP.
        start_tls=bool(settings.smtp_starttls) and not implicit_tls,
        timeout=timeout,
    )


class SmtpSession:
    """One SMTP connection reused across a batch, reopened after a disconnect."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def send(self, message, recipient: str) -> None:  # type: ignore[no-untyped-def]
        try:
            if self._client is None or not self._client.is_connected:
                self._client = smtp_client(self._settings, self._timeout)
                await self._client.connect()
            await self._client.send_message(
                message,
                sender=sender_address(self._settings.smtp_from),
                recipients=[recipient],
            )
        except Exception as exc:
            error = describe_smtp_error(exc, self._settings)
            if error.connection:
                await self.close()
            raise error from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except Exception:  # the connection is going away either way
                client.close()


# --- the worker ------------------------------------------------------------------------------


@dataclass
class OutboxWorker:
    runtime: Runtime
    policy: OutboxPolicy = field(default_factory=OutboxPolicy)
    clock: Callable[[], dt.datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._stopping = False
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    # -- one pass ----------------------------------------------------------------------------

    async def drain(self, now: dt.datetime | None = None) -> DeliveryResult:
        """Deliver everything due at `now` (default: the clock), batch after batch, each
        message tried at most once per pass. Stops early when the SMTP server is unreachable
        (no point burning every message's attempts on one outage) or when stopping."""
        total = DeliveryResult()
        if not self.settings.smtp_enabled:
            return total
        # Messages tried and not sent in this pass are not tried again in it, even if their
        # backoff is shorter than the pass.
        tried: list[int] = []
        smtp = SmtpSession(self.settings, self.policy.smtp_timeout)
        try:
            while not self._stopping:
                claim_time = now or self.clock()
                batch = await anyio.to_thread.run_sync(
                    claim_batch, self.runtime, claim_time, self.policy, tuple(tried)
                )
                if not batch:
                    break
                result = await self._deliver(batch, smtp, now)
                tried.extend(result.not_sent_ids)
                total.sent += result.sent
                total.failed_attempts += result.failed_attempts
                total.released += result.released
                if result.connection_failed:
                    total.connection_failed = True
                    break
        finally:
            await smtp.close()
        return total

    async def _deliver(
        self, batch: list[Claimed], smtp: SmtpSession, now: dt.datetime | None
    ) -> DeliveryResult:
        result = DeliveryResult()
        # Sending must end well inside the lease, or a second worker could take the message
        # while this one is still sending it: three SMTP timeouts (MAIL, RCPT, DATA) of margin.
        margin = dt.timedelta(seconds=3 * self.policy.smtp_timeout)
        for index, item in enumerate(batch):
            if self._stopping or (now or self.clock()) + margin > item.claimed_until:
                rest = batch[index:]
                await anyio.to_thread.run_sync(release, self.runtime, rest, now or self.clock())
                result.released += len(rest)
                result.not_sent_ids.extend(other.id for other in rest)
                break
            error = await self._send_one(item, smtp)
            when = now or self.clock()
            if error is None:
                await anyio.to_thread.run_sync(mark_sent, self.runtime, item, when)
                result.sent += 1
                log.info(
                    "office message %s sent to office %s (attempt %d)",
                    item.reference,
                    item.office_code,
                    item.attempts,
                )
                continue
            status = await anyio.to_thread.run_sync(
                lambda: mark_failed_attempt(
                    self.runtime,
                    item,
                    when,
                    error.description,
                    permanent=error.permanent,
                    policy=self.policy,
                    rng=self.rng,
                )
            )
            result.failed_attempts += 1
            result.not_sent_ids.append(item.id)
            if status == FAILED:
                log.error(
                    "office message %s FAILED after %d attempt(s): %s; staff can requeue it"
                    " with `csbot office-messages retry`",
                    item.reference,
                    item.attempts,
                    error.description,
                )
            else:
                log.warning(
                    "office message %s not sent (attempt %d of %d), will retry: %s",
                    item.reference,
                    item.attempts,
                    self.policy.max_attempts,
                    error.description,
                )
            if error.connection:
                # The server is unreachable: the rest of the batch would fail the same way.
                # Count the attempt for them too, so a long outage still ends in "failed".
                for other in batch[index + 1 :]:
                    await anyio.to_thread.run_sync(
                        lambda other=other: mark_failed_attempt(
                            self.runtime,
                            other,
                            when,
                            error.description,
                            permanent=False,
                            policy=self.policy,
                            rng=self.rng,
                        )
                    )
                    result.failed_attempts += 1
                    result.not_sent_ids.append(other.id)
                result.connection_failed = True
                break
        return result

    async def _send_one(self, item: Claimed, smtp: SmtpSession) -> DeliveryError | None:
        if item.mail is None:
            return DeliveryError(item.problem or "message cannot be composed")
        try:
            message = compose(item.mail, self.settings.smtp_from)
        except ValueError as exc:  # a malformed office address or name from the extract
            return DeliveryError(_scrub(f"cannot compose the mail: {exc}", self.settings))
        try:
            await smtp.send(message, item.mail.office_email)
        except DeliveryError as error:
            return error
        return None

    # -- background loop ---------------------------------------------------------------------

    async def startup_report(self) -> int:
        """Log how many messages wait; with no SMTP configured, say which variables to set."""
        try:
            waiting = await anyio.to_thread.run_sync(self._count_waiting)
        except Exception as exc:  # the loop retries the database; start-up need not fail
            log.warning("outbox: cannot count waiting messages (%s)", type(exc).__name__)
            waiting = -1
        if not self.settings.smtp_enabled:
            log.warning(
                "office mail is not configured: %d office message(s) waiting in the queue will"
                " not be sent until CSBOT_SMTP_HOST is set (see also %s)",
                waiting,
                SMTP_VARIABLES,
            )
        else:
            log.info(
                "outbox worker started: %d office message(s) waiting, SMTP %s:%d",
                waiting,
                self.settings.smtp_host,
                self.settings.smtp_port,
            )
        return waiting

    def _count_waiting(self) -> int:
        with self.runtime.sessions() as session:
            return count_waiting(session)

    def wake(self) -> None:
        """Look at the queue now rather than at the next poll (safe from any thread)."""
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self) -> None:
        """Drain, then sleep until the poll interval passes or `wake()`, until `stop()`."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        failures_in_a_row = 0
        while not self._stopping:
            try:
                result = await self.drain()
                failures_in_a_row = 0
                pause = self.policy.poll_interval
                if result.sent and not result.connection_failed:
                    continue  # more may have arrived while sending
            except Exception as exc:  # the database is down, say: keep the worker alive
                failures_in_a_row += 1
                pause = min(60.0, self.policy.poll_interval * 2**failures_in_a_row)
                log.warning(
                    "outbox pass failed (%s: %s); trying again in %.0f s",
                    type(exc).__name__,
                    _scrub(str(exc).splitlines()[0] if str(exc) else "", self.settings),
                    pause,
                )
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=pause)
            except TimeoutError:
                pass
            self._wakeup.clear()

    async def start(self) -> None:
        await self.startup_report()
        if not self.settings.smtp_enabled:
            return  # nothing can be sent; messages wait in the queue
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="csbot-outbox")

    async def stop(self, grace: float = 60.0) -> None:
        """Stop after the message being sent now is sent and marked; untried claims are
        released. After `grace` seconds the task is cancelled (its claims expire)."""
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=grace)
        except TimeoutError:
            task.cancel()
            log.warning("outbox worker did not stop within %.0f s; cancelled", grace)
        except Exception:
            log.exception("outbox worker ended with an error")


def drain_once(
    runtime: Runtime,
    now: dt.datetime | None = None,
    *,
    policy: OutboxPolicy | None = None,
    rng: random.Random | None = None,
) -> int:
    """Deliver what is due once (for tests and scripts; not inside a running event loop).
    Returns how many messages were sent."""
    worker = OutboxWorker(runtime, policy=policy or OutboxPolicy(), rng=rng or random.Random())
    return asyncio.run(worker.drain(now)).sent


# --- csbot serve ------------------------------------------------------------------------------


class OutboxComponent:
    """The worker as a background part of `csbot serve` (no routes)."""

    def __init__(self, runtime: Runtime, policy: OutboxPolicy | None = None) -> None:
        self.routes: list[BaseRoute] = []
        self.worker = OutboxWorker(runtime, policy=policy or OutboxPolicy())

    async def startup(self) -> None:
        await self.worker.start()

    async def shutdown(self) -> None:
        await self.worker.stop()

    def wake(self) -> None:
        self.worker.wake()


def outbox_component(runtime: Runtime) -> OutboxComponent:
    return OutboxComponent(runtime)


# --- csbot worker -----------------------------------------------------------------------------


def run_worker_command(settings: Settings) -> int:
    """`csbot worker`: deliver office mail until SIGINT or SIGTERM, then exit 0."""
    from bot.logs import configure_logging

    configure_logging(settings)
    runtime = open_runtime(settings, pool_size=2)
    try:
        if not settings.smtp_enabled:
            with runtime.sessions() as session:
                waiting = count_waiting(session)
            raise ConfigError(
                f"CSBOT_SMTP_HOST is not set: the outbox worker has no mail server to send the"
                f" {waiting} waiting office message(s) with (set {SMTP_VARIABLES})"
            )
        asyncio.run(_run_until_signalled(runtime))
    finally:
        runtime.dispose()
    return 0


async def _run_until_signalled(runtime: Runtime) -> None:
    worker = OutboxWorker(runtime)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    await worker.start()
    await stop_requested.wait()
    log.info("outbox worker stopping")
    await worker.stop()
    log.info("outbox worker stopped")
