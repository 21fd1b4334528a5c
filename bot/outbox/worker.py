"""The outbox worker: delivers parents' messages to their offices by SMTP, never losing one.

`OutboxWorker.drain` claims what is due (bot.outbox.queue), sends each mail (bot.outbox.smtp)
and marks it; `run` repeats that every poll interval until `stop()`. It runs inside every
`csbot serve` process (`OutboxComponent`) or alone (`csbot worker`, bot.commands.worker).

Database work is synchronous SQLAlchemy, run in worker threads so the event loop (shared with
the webhooks under `csbot serve`) never blocks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import anyio.to_thread
from starlette.routing import BaseRoute

from bot.background import stop_within
from bot.clock import utcnow
from bot.config import Settings
from bot.outbox.mail import compose
from bot.outbox.queue import (
    FAILED,
    Claimed,
    OutboxPolicy,
    claim_batch,
    count_waiting,
    mark_failed_attempt,
    mark_sent,
    release,
)
from bot.outbox.smtp import SMTP_VARIABLES, DeliveryError, SmtpSession, scrub
from bot.runtime import Runtime

log = logging.getLogger("csbot.outbox")


@dataclass
class DeliveryResult:
    sent: int = 0
    failed_attempts: int = 0
    connection_failed: bool = False
    released: int = 0
    not_sent_ids: list[int] = field(default_factory=list)


@dataclass
class OutboxWorker:
    runtime: Runtime
    policy: OutboxPolicy = field(default_factory=OutboxPolicy)
    clock: Callable[[], dt.datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._stopping = False
        self._stop_event: asyncio.Event | None = None  # cuts the sleep between passes short
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
            status = await self._mark_failed(item, when, error.description, permanent=error.permanent)
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
                    await self._mark_failed(other, when, error.description, permanent=False)
                    result.failed_attempts += 1
                    result.not_sent_ids.append(other.id)
                result.connection_failed = True
                break
        return result

    async def _mark_failed(
        self, item: Claimed, when: dt.datetime, error: str, *, permanent: bool
    ) -> str:
        return await anyio.to_thread.run_sync(
            partial(
                mark_failed_attempt,
                self.runtime,
                item,
                when,
                error,
                permanent=permanent,
                policy=self.policy,
                rng=self.rng,
            )
        )

    async def _send_one(self, item: Claimed, smtp: SmtpSession) -> DeliveryError | None:
        if item.mail is None:
            return DeliveryError(item.problem or "message cannot be composed")
        try:
            message = compose(item.mail, self.settings.smtp_from, self.settings.reply_to)
        except ValueError as exc:  # a malformed office address or name from the extract
            return DeliveryError(scrub(f"cannot compose the mail: {exc}", self.settings))
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

    async def run(self) -> None:
        """Drain, then sleep for the poll interval, until `stop()`."""
        self._stop_event = asyncio.Event()
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
                    scrub(str(exc).splitlines()[0] if str(exc) else "", self.settings),
                    pause,
                )
            try:
                await asyncio.wait_for(self._stop_event.wait(), timeout=pause)
            except TimeoutError:
                pass

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
        if self._stop_event is not None:
            self._stop_event.set()
        task, self._task = self._task, None
        await stop_within(task, grace, "outbox worker", log)


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


def outbox_component(runtime: Runtime) -> OutboxComponent:
    return OutboxComponent(runtime)
