"""What an import or the daily check turns into alert events, set-wise (one INSERT ... SELECT
... ON CONFLICT DO NOTHING per list), in the caller's transaction.

- `csbot import`: a payment or disbursement in the file that the store did not hold before
  (not in the live table yet) and that is dated within the last 7 days of the import's clock
  (local date, CSBOT_TIMEZONE). A disbursement alerts the case's receiving parent
  (payment_sent); a payment, its paying parent (payment_received). Called before the list is
  upserted, so "not stored yet" means new to this database.
- The daily check: a coupon due within the next 3 days alerts the case's paying parent
  (coupon_due), once per coupon (a day the check did not run is caught up the next day).

The unique key (person, kind, source record) is the guarantee that re-importing the same
extract, a --replace, a second check or two processes at once record nothing twice; the
7-day window keeps a backfill of old records silent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Connection, Date, Table, exists, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.models import AlertEvent, Case, Coupon, UTCDateTime
from dialogs.alerts import COUPON_DUE_DAYS, AlertKind

NEW_RECORD_DAYS = 7
EVENTS = cast(Table, AlertEvent.__table__)
CASES = cast(Table, Case.__table__)
COUPONS = cast(Table, Coupon.__table__)
_COLUMNS = ["person_id", "kind", "source_key", "event_date", "recorded_at"]

# Which parent each imported list alerts, and as what.
IMPORT_EVENTS: dict[str, tuple[AlertKind, str]] = {
    "disbursements": (AlertKind.PAYMENT_SENT, "custodial_parent_id"),
    "payments": (AlertKind.PAYMENT_RECEIVED, "noncustodial_parent_id"),
}


def _insert_new(conn: Connection, chosen: Any) -> int:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(EVENTS).from_select(_COLUMNS, chosen).on_conflict_do_nothing(
        index_elements=["person_id", "kind", "source_key"]
    )
    result = conn.execute(statement, execution_options={"preserve_rowcount": True})
    return max(result.rowcount or 0, 0)


def record_import_events(
    conn: Connection, list_name: str, stage: Table, live: Table, today: dt.date, now: dt.datetime
) -> int:
    """Events for the staged records of `list_name` that are new and recent; how many."""
    if list_name not in IMPORT_EVENTS:
        return 0
    kind, parent = IMPORT_EVENTS[list_name]
    chosen = (
        select(
            CASES.c[parent], literal(str(kind)), stage.c.id, stage.c.date, literal(now, UTCDateTime()),
        )
        .select_from(stage.join(CASES, CASES.c.case_number == stage.c.case_number))
        .where(
            stage.c.date >= literal(today - dt.timedelta(days=NEW_RECORD_DAYS), Date()),
            stage.c.date <= literal(today, Date()),
            ~exists().where(live.c.id == stage.c.id),
        )
        .where(true())  # SQLite parses ON CONFLICT after INSERT ... SELECT only with a WHERE
    )
    return _insert_new(conn, chosen)


def record_due_coupons(conn: Connection, today: dt.date, now: dt.datetime) -> int:
    """Events for coupons due after `today` and at most COUPON_DUE_DAYS later; how many."""
    chosen = (
        select(
            CASES.c.noncustodial_parent_id, literal(str(AlertKind.COUPON_DUE)), COUPONS.c.id,
            COUPONS.c.due_date, literal(now, UTCDateTime()),
        )
        .select_from(COUPONS.join(CASES, CASES.c.case_number == COUPONS.c.case_number))
        .where(
            COUPONS.c.due_date > literal(today, Date()),
            COUPONS.c.due_date <= literal(today + dt.timedelta(days=COUPON_DUE_DAYS), Date()),
        )
        .where(true())
    )
    return _insert_new(conn, chosen)
