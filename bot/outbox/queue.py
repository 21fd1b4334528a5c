"""The office-message queue (table `office_messages`): claim, mark mailed, mark a failed
attempt, release. The timing of claims and retries is `OutboxPolicy`.

Life of an office message:

    queued --claim--> sending --sent--> mailed --office answers--> answered --parent reads--> read
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

Every step here is synchronous SQLAlchemy; the worker runs them in threads.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.outbox.mail import OfficeMail
from bot.runtime import Runtime
from bot.store.dialect import is_sqlite
from bot.store.models import Office, OfficeMessage, Person

QUEUED, SENDING, MAILED, FAILED = "queued", "sending", "mailed", "failed"
ANSWERED, READ = "answered", "read"  # bot/office_answers: an office answered; the parent read it
ERROR_LIMIT = 500  # the width of the last_error column


def backoff_ceiling(attempts: int, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """The longest wait after the `attempts`-th failed attempt (1-based): base doubled, capped."""
    exponent = min(max(attempts - 1, 0), 32)  # 2**32 * base is far past any cap
    return min(cap, base * (1 << exponent))


def full_jitter(ceiling: dt.timedelta, rng: random.Random) -> dt.timedelta:
    """Full jitter: uniform between 0 and the ceiling (at least 1 s), so workers that failed
    together (an outage) do not all come back at the same instant."""
    return dt.timedelta(seconds=max(1.0, rng.uniform(0.0, ceiling.total_seconds())))


@dataclass(frozen=True)
class OutboxPolicy:
    """Timing of claims and retries. The defaults ride out about 1.5 hours of SMTP outage on
    average, and at most about 3 hours, before a message is marked failed: nine waits between
    ten attempts, each drawn between 0 and a ceiling that doubles from 30 s up to 1 h (30 s,
    1, 2, 4, 8, 16, 32 min, 1 h, 1 h: 11,010 s in all, half that on average, full jitter).
    `max_outage()` is that bound."""

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
        return backoff_ceiling(attempts, self.backoff_base, self.backoff_cap)

    def backoff(self, attempts: int, rng: random.Random) -> dt.timedelta:
        return full_jitter(self.backoff_ceiling(attempts), rng)

    def max_outage(self) -> dt.timedelta:
        """The longest the backoff waits in all before the last attempt: the sum of the ceilings
        after each failed attempt but the last (the mean is about half of it)."""
        return sum(
            (self.backoff_ceiling(n) for n in range(1, self.max_attempts)), dt.timedelta()
        )


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
    claimed_until = now + policy.lease
    with runtime.write() as session:
        rows = list(session.scalars(query))
        for row in rows:
            row.status = SENDING
            row.attempts += 1
            row.claimed_until = claimed_until
        session.flush()
        return [_snapshot(session, row, claimed_until) for row in rows]


def _snapshot(session: Session, row: OfficeMessage, claimed_until: dt.datetime) -> Claimed:
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
        claimed_until=claimed_until,
        mail=mail,
        problem=problem,
    )


def mark_sent(runtime: Runtime, item: Claimed, now: dt.datetime) -> None:
    # No attempts fence here: the mail did go out, whoever holds the claim now.
    with runtime.write() as session:
        session.execute(
            update(OfficeMessage)
            .where(OfficeMessage.id == item.id, OfficeMessage.status == SENDING)
            .values(status=MAILED, sent_at=now, claimed_until=None, last_error=None)
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
    values.update(claimed_until=None, last_error=error[:ERROR_LIMIT])
    with runtime.write() as session:
        session.execute(
            update(OfficeMessage)
            .where(_still_claimed(item))
            .values(**values)
        )
    return str(values["status"])


def release(runtime: Runtime, items: Sequence[Claimed], now: dt.datetime) -> None:
    """Give back claimed messages that were never tried (shutdown): no attempt is spent and
    another worker may take them at once."""
    if not items:
        return
    with runtime.write() as session:
        for item in items:
            session.execute(
                update(OfficeMessage)
                .where(_still_claimed(item))
                .values(
                    status=QUEUED,
                    attempts=item.attempts - 1,
                    next_attempt_at=now,
                    claimed_until=None,
                )
            )


def _still_claimed(item: Claimed) -> ColumnElement[bool]:
    """The fence: the row is still sending under this claim (no other worker took it over)."""
    return and_(
        OfficeMessage.id == item.id,
        OfficeMessage.status == SENDING,
        OfficeMessage.attempts == item.attempts,
    )
