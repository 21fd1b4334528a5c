"""Staff commands for the work the bot queues: PIN re-mail requests, office messages (the
outbox), account lockouts and the audit trail.

Output is for people at a terminal: aligned tables, timestamps in ISO 8601 UTC. Commands that
change several records by id are all-or-nothing: if any id is unknown or in the wrong state,
nothing changes, every bad id is named, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from bot.config import Settings
from bot.runtime import Runtime, open_runtime
from bot.store.models import AccountLock, AuditRecord, OfficeMessage, Person, PinRequest

# The CSV a mailing unit loads into its mail-merge: one column per address part.
PIN_EXPORT_COLUMNS = (
    "request_id",
    "person_id",
    "name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip",
    "requested_at",
)


class StaffError(Exception):
    """A request staff must correct; printed as `csbot: error: ...`, exit status 1."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [list(headers)] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _run(settings: Settings, action: Any) -> int:
    runtime = open_runtime(settings)
    try:
        return action(runtime)
    except StaffError as exc:
        print(f"csbot: error: {exc}", file=sys.stderr)
        return 1
    finally:
        runtime.dispose()


def _name(person: Person | None) -> str:
    return f"{person.first_name} {person.last_name}" if person else "-"


# --- PIN re-mail requests ------------------------------------------------------------------


def pin_requests(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "list":
        return _run(settings, _pin_list)
    if args.action == "export":
        return _run(settings, _pin_export)
    return _run(settings, lambda rt: _pin_mark_mailed(rt, args.ids))


def _open_pin_requests(runtime: Runtime) -> list[tuple[PinRequest, Person | None]]:
    with runtime.sessions() as session:
        query = (
            select(PinRequest, Person)
            .outerjoin(Person, Person.id == PinRequest.person_id)
            .where(PinRequest.status == "open")
            .order_by(PinRequest.requested_at, PinRequest.id)
        )
        return [(request, person) for request, person in session.execute(query)]


def _pin_list(runtime: Runtime) -> int:
    rows = _open_pin_requests(runtime)
    if not rows:
        print("no open PIN re-mail requests")
        return 0
    print(
        _table(
            ("id", "person id", "name", "requested at (UTC)", "via"),
            [(r.id, r.person_id, _name(p), _iso(r.requested_at), r.channel) for r, p in rows],
        )
    )
    print(f"{len(rows)} open request{'s' if len(rows) != 1 else ''}")
    return 0


def _pin_export(runtime: Runtime) -> int:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(PIN_EXPORT_COLUMNS)
    for request, person in _open_pin_requests(runtime):
        writer.writerow(
            (
                request.id,
                request.person_id,
                _name(person),
                person.address_line1 if person else "",
                (person.address_line2 or "") if person else "",
                person.address_city if person else "",
                person.address_state if person else "",
                person.address_zip if person else "",
                _iso(request.requested_at),
            )
        )
    sys.stdout.flush()
    return 0


def _pin_mark_mailed(runtime: Runtime, ids: list[int]) -> int:
    wanted = list(dict.fromkeys(ids))
    with runtime.sessions.begin() as session:
        found = {
            r.id: r for r in session.scalars(select(PinRequest).where(PinRequest.id.in_(wanted)))
        }
        problems = []
        for request_id in wanted:
            request = found.get(request_id)
            if request is None:
                problems.append(f"{request_id}: no such request")
            elif request.status != "open":
                problems.append(f"{request_id}: already marked mailed at {_iso(request.mailed_at)}")
        if problems:
            raise StaffError("nothing was changed: " + "; ".join(problems))
        now = _now()
        for request in found.values():
            request.status = "mailed"
            request.mailed_at = now
    print(f"marked {len(wanted)} request{'s' if len(wanted) != 1 else ''} mailed: "
          + ", ".join(str(i) for i in wanted))
    return 0


# --- office messages ------------------------------------------------------------------------


def office_messages(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "list":
        return _run(settings, lambda rt: _messages_list(rt, show_all=args.all))
    return _run(settings, lambda rt: _messages_retry(rt, args.ids))


def _messages_list(runtime: Runtime, *, show_all: bool) -> int:
    with runtime.sessions() as session:
        query = select(OfficeMessage).order_by(OfficeMessage.created_at, OfficeMessage.id)
        if not show_all:
            query = query.where(OfficeMessage.status != "sent")
        messages = list(session.scalars(query))
    if not messages:
        print("no office messages" if show_all else "no unsent office messages")
        return 0
    print(
        _table(
            ("id", "reference", "office", "case", "status", "attempts", "next attempt (UTC)",
             "created (UTC)", "last error"),
            [
                (
                    m.id,
                    m.reference,
                    m.office_code,
                    m.case_number,  # staff see the full case number, as the office mail does
                    m.status,
                    m.attempts,
                    _iso(m.next_attempt_at) if m.status in ("queued", "sending") else "-",
                    _iso(m.created_at),
                    (m.last_error or "")[:60] or None,
                )
                for m in messages
            ],
        )
    )
    return 0


def _messages_retry(runtime: Runtime, ids: list[int]) -> int:
    wanted = list(dict.fromkeys(ids))
    with runtime.sessions.begin() as session:
        found = {
            m.id: m
            for m in session.scalars(select(OfficeMessage).where(OfficeMessage.id.in_(wanted)))
        }
        problems = []
        for message_id in wanted:
            message = found.get(message_id)
            if message is None:
                problems.append(f"{message_id}: no such message")
            elif message.status == "sent":
                problems.append(f"{message_id}: already sent at {_iso(message.sent_at)}")
            elif message.status == "sending":
                problems.append(f"{message_id}: being sent right now")
        if problems:
            raise StaffError("nothing was changed: " + "; ".join(problems))
        now = _now()
        for message in found.values():
            # A fresh start: due now, a full set of attempts. last_error stays as history
            # until the next attempt replaces or clears it.
            message.status = "queued"
            message.attempts = 0
            message.next_attempt_at = now
            message.claimed_until = None
    print(f"queued {len(wanted)} message{'s' if len(wanted) != 1 else ''} again: "
          + ", ".join(str(i) for i in wanted))
    return 0


# --- lockouts -----------------------------------------------------------------------------


def lockouts(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "list":
        return _run(settings, _locks_list)
    return _run(settings, lambda rt: _unlock(rt, args.person_id))


def _locks_list(runtime: Runtime) -> int:
    now = _now()
    with runtime.sessions() as session:
        query = (
            select(AccountLock, Person)
            .outerjoin(Person, Person.id == AccountLock.person_id)
            .where(AccountLock.locked_until > now)
            .order_by(AccountLock.locked_until)
        )
        rows = list(session.execute(query))
    if not rows:
        print("no locked accounts")
        return 0
    print(
        _table(
            ("person id", "name", "locked until (UTC)", "wrong PINs"),
            [(lock.person_id, _name(p), _iso(lock.locked_until), lock.consecutive_failures)
             for lock, p in rows],
        )
    )
    return 0


def _unlock(runtime: Runtime, person_id: str) -> int:
    now = _now()
    with runtime.sessions.begin() as session:
        if session.get(Person, person_id) is None:
            raise StaffError(f"no person with id {person_id!r}")
        lock = session.get(AccountLock, person_id)
        if lock is None or lock.locked_until is None or lock.locked_until <= now:
            raise StaffError(f"person {person_id!r} is not locked")
        lock.locked_until = None
        lock.consecutive_failures = 0
    print(f"unlocked {person_id}")
    return 0


# --- audit ----------------------------------------------------------------------------------


def audit(settings: Settings, args: argparse.Namespace) -> int:
    since: dt.datetime | None = None
    if args.since:
        try:
            day = dt.date.fromisoformat(args.since)
        except ValueError:
            from bot.errors import CommandError

            raise CommandError("--since must be a date YYYY-MM-DD") from None
        since = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    if args.limit < 1:
        from bot.errors import CommandError

        raise CommandError("--limit must be at least 1")
    return _run(settings, lambda rt: _audit_list(rt, args.person, since, args.limit))


def _audit_list(runtime: Runtime, person: str | None, since: dt.datetime | None, limit: int) -> int:
    query = select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit)
    if person:
        query = query.where(AuditRecord.person_id == person)
    if since:
        query = query.where(AuditRecord.at >= since)
    with runtime.sessions() as session:
        records = list(session.scalars(query))
    if not records:
        print("no audit records")
        return 0
    print(
        _table(
            ("when (UTC)", "person id", "channel", "chat", "record"),
            [(_iso(r.at), r.person_id, r.channel, r.sender, r.record_kind) for r in records],
        )
    )
    if len(records) == limit:
        print(f"(newest {limit} shown; use --limit for more)")
    return 0
