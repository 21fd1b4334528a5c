"""The outbound sender: delivers queued messages (bot/outbound/queue.py) through each channel's
`Sender`, inside every `csbot serve` process (`OutboundComponent`) and in `csbot worker`.

One pass claims what is due (lower priority first, one message per chat at a time), sends the
batch concurrently (each message is to a different chat; the senders keep their APIs' rates),
and marks each as soon as its API answered. The loop sleeps for the poll interval or until the
doorbell rings (a webhook in this process queued something and committed).

During the quiet hours (CSBOT_QUIET_HOURS in CSBOT_TIMEZONE, bot/outbound/quiet.py), read
with the worker's own clock, alerts and office-answer notices are not claimed; they go when
the quiet hours end. Replies and deletes are never held.

A channel without a sender (SMS without TWILIO_ACCOUNT_SID and TWILIO_FROM_NUMBER) is not
claimed at all: its messages wait in the queue, and start-up says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import anyio.to_thread
from starlette.routing import BaseRoute

from bot.background import stop_within
from bot.clock import utcnow
from bot.outbound.messages import Doorbell, Outcome, Refused, Sender, Sent, TryAgain
from bot.outbound.queue import (
    Lease,
    OutboundPolicy,
    claim_batch,
    count_waiting,
    mark_refused,
    mark_retry,
    mark_sent,
    release,
)
from bot.outbound.quiet import QuietHours
from bot.outbound.sms import SMS_SENDER_VARIABLES, sms_sender
from bot.outbound.telegram import telegram_sender
from bot.runtime import Runtime

log = logging.getLogger("csbot.outbound")
SEND_MARGIN = dt.timedelta(seconds=60)  # a send must start this long before its lease ends


def mask(recipient: str) -> str:
    """A recipient for logs and listings: only its last four characters."""
    return "…" + recipient[-4:] if len(recipient) > 4 else "…"


def build_senders(runtime: Runtime) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    for sender in (sms_sender(runtime.settings), telegram_sender(runtime)):
        if sender is not None:
            senders[sender.channel] = sender
    return senders


@dataclass
class OutboundWorker:
    runtime: Runtime
    senders: Mapping[str, Sender]
    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    doorbell: Doorbell = field(default_factory=Doorbell)
    clock: Callable[[], dt.datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    # Alerts and notices wait out the quiet hours; default: CSBOT_QUIET_HOURS in CSBOT_TIMEZONE.
    quiet_hours: QuietHours | None = None

    def __post_init__(self) -> None:
        if self.quiet_hours is None:
            settings = self.runtime.settings
            self.quiet_hours = QuietHours.from_settings(settings.quiet_hours, settings.timezone)
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # -- one pass ----------------------------------------------------------------------------

    async def drain(self, now: dt.datetime | None = None) -> int:
        """Send everything due at `now` (default: the clock), batch after batch. Returns how
        many messages were handled (sent, retried later, refused)."""
        handled = 0
        channels = tuple(self.senders)
        while not self._stopping and channels:
            when = now or self.clock()
            quiet = self.quiet_hours is not None and self.quiet_hours.holds(when)
            leases = await anyio.to_thread.run_sync(
                partial(claim_batch, self.runtime, when, self.policy, channels, quiet=quiet)
            )
            if not leases:
                break
            await asyncio.gather(*(self._deliver(lease, now) for lease in leases))
            handled += len(leases)
        return handled

    async def _deliver(self, lease: Lease, now: dt.datetime | None) -> None:
        message = lease.message
        if self._stopping or (now or self.clock()) + SEND_MARGIN > lease.claimed_until:
            await anyio.to_thread.run_sync(release, self.runtime, [lease], now or self.clock())
            return
        outcome: Outcome
        try:
            outcome = await self.senders[message.channel].send(message)
        except Exception as exc:  # a sender's bug: retried with backoff, in the end failed
            outcome = TryAgain(f"sender error {type(exc).__name__}")
        when = now or self.clock()
        who = f"{message.kind} #{message.id} ({message.channel} {mask(message.recipient)})"
        if isinstance(outcome, Sent):
            await anyio.to_thread.run_sync(mark_sent, self.runtime, lease, when, outcome.provider_id)
            log.info("outbound %s sent (attempt %d)", who, message.attempts)
        elif isinstance(outcome, TryAgain):
            status = await anyio.to_thread.run_sync(
                partial(mark_retry, self.runtime, lease, when, outcome.error, outcome.after,
                        policy=self.policy, rng=self.rng)
            )
            log.warning("outbound %s not sent (attempt %d), %s: %s", who, message.attempts,
                        "will retry" if status == "queued" else "FAILED", outcome.error)
        else:
            assert isinstance(outcome, Refused)
            await anyio.to_thread.run_sync(
                partial(mark_refused, self.runtime, lease, outcome.error,
                        unreachable_at=when if outcome.unreachable else None)
            )
            log.warning("outbound %s refused%s: %s", who,
                        " (recipient unreachable: nothing more is sent)" if outcome.unreachable else "", outcome.error)

    # -- background loop ---------------------------------------------------------------------

    async def startup_report(self) -> None:
        try:
            waiting = await anyio.to_thread.run_sync(self._count_waiting)
        except Exception as exc:  # the loop retries the database; start-up need not fail
            log.warning("outbound: cannot count waiting messages (%s)", type(exc).__name__)
            waiting = {}
        if "sms" not in self.senders and (self.runtime.settings.sms_enabled or waiting.get("sms")):
            log.warning(
                "SMS sending is not configured: %d SMS message(s) waiting in the queue will not be"
                " sent until %s are set", waiting.get("sms", 0), SMS_SENDER_VARIABLES,
            )
        log.info("outbound sender started for %s: %s waiting", ", ".join(self.senders) or "no channel",
                 ", ".join(f"{n} {c}" for c, n in sorted(waiting.items())) or "nothing")

    def _count_waiting(self) -> dict[str, int]:
        with self.runtime.sessions() as session:
            return count_waiting(session)

    async def run(self) -> None:
        """Drain, then wait for the doorbell or the poll interval, until `stop()`."""
        wake = self._wake = self.doorbell.listen()
        failures_in_a_row = 0
        while not self._stopping:
            wake.clear()
            pause = self.policy.poll_interval
            try:
                if await self.drain():
                    continue  # more may have come due while sending
                failures_in_a_row = 0
            except Exception as exc:  # the database is down, say: keep the sender alive
                failures_in_a_row += 1
                pause = min(60.0, self.policy.poll_interval * 2**failures_in_a_row)
                log.warning("outbound pass failed (%s); trying again in %.0f s", type(exc).__name__, pause)
            try:
                await asyncio.wait_for(wake.wait(), timeout=pause)
            except TimeoutError:
                pass

    async def start(self) -> None:
        await self.startup_report()
        if not self.senders:
            return
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="csbot-outbound")

    async def stop(self, grace: float = 30.0) -> None:
        """Stop after the messages being sent are marked; untried claims are released."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        task, self._task = self._task, None
        await stop_within(task, grace, "outbound sender", log)
        for sender in self.senders.values():
            try:
                await sender.close()
            except Exception as exc:
                log.warning("outbound: a sender did not close cleanly (%s)", type(exc).__name__)


class OutboundComponent:
    """The sender as a background part of `csbot serve` (no routes)."""

    def __init__(self, runtime: Runtime, doorbell: Doorbell) -> None:
        self.routes: list[BaseRoute] = []
        self.runtime = runtime
        self.doorbell = doorbell
        self.worker: OutboundWorker | None = None

    async def startup(self) -> None:
        self.worker = OutboundWorker(self.runtime, build_senders(self.runtime), doorbell=self.doorbell)
        await self.worker.start()

    async def shutdown(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
