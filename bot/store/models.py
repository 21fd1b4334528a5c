"""Typed SQLAlchemy 2 models.

Two families live here: the account data loaded from the agency's extract (offices, people,
cases and their records), and what the bot itself keeps (conversations, handled deliveries,
verification failures and locks, PIN re-mail requests, the office-message outbox, audit).
Money is Numeric(12, 2) read as Decimal, never float. SSNs and PINs exist only as keyed hashes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

Money = Numeric(12, 2, asdecimal=True)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- account data (from the extract) --------------------------------------------------------


class Office(Base):
    __tablename__ = "offices"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300))


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    ssn_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    pin_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2), default="en")
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    address_city: Mapped[str] = mapped_column(String(100))
    address_state: Mapped[str] = mapped_column(String(40))
    address_zip: Mapped[str] = mapped_column(String(10))


class Case(Base):
    __tablename__ = "cases"

    case_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    office_code: Mapped[str] = mapped_column(ForeignKey("offices.code"), index=True)
    custodial_parent_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    noncustodial_parent_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    support_amount: Mapped[Decimal] = mapped_column(Money)
    support_frequency: Mapped[str] = mapped_column(String(12))
    arrears_balance: Mapped[Decimal] = mapped_column(Money)
    next_due_date: Mapped[dt.date | None] = mapped_column(Date)
    as_of: Mapped[dt.date | None] = mapped_column(Date)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_case_date", "case_number", "date"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_number: Mapped[str] = mapped_column(ForeignKey("cases.case_number"))
    date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(32))


class Disbursement(Base):
    __tablename__ = "disbursements"
    __table_args__ = (Index("ix_disbursements_case_date", "case_number", "date"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_number: Mapped[str] = mapped_column(ForeignKey("cases.case_number"))
    date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(String(16))


class Coupon(Base):
    __tablename__ = "coupons"
    __table_args__ = (Index("ix_coupons_case_due", "case_number", "due_date"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_number: Mapped[str] = mapped_column(ForeignKey("cases.case_number"))
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (Index("ix_statements_case_end", "case_number", "period_end"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_number: Mapped[str] = mapped_column(ForeignKey("cases.case_number"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    opening_balance: Mapped[Decimal] = mapped_column(Money)
    support_due: Mapped[Decimal] = mapped_column(Money)
    payments_received: Mapped[Decimal] = mapped_column(Money)
    closing_balance: Mapped[Decimal] = mapped_column(Money)


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_case_month", "case_number", "month"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_number: Mapped[str] = mapped_column(ForeignKey("cases.case_number"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM sorts as text
    collected: Mapped[Decimal] = mapped_column(Money)
    disbursed: Mapped[Decimal] = mapped_column(Money)
    balance_owed: Mapped[Decimal] = mapped_column(Money)


class ImportRun(Base):
    """One `csbot import`: when, which file's as_of, how many records; for operators."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    replace: Mapped[bool] = mapped_column(default=False)
    records: Mapped[int] = mapped_column(Integer)


# --- what the bot keeps ----------------------------------------------------------------------


class Conversation(Base):
    """One chat (channel + sender): its dialog state, language and verified person."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender", name="uq_conversations_chat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chosen_locale: Mapped[str | None] = mapped_column(String(2))
    hint_locale: Mapped[str | None] = mapped_column(String(2))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class HandledDelivery(Base):
    """A Twilio MessageSid or Telegram update_id already acted on: repeats are ignored."""

    __tablename__ = "handled_deliveries"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    handled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class VerificationFailure(Base):
    """A failed verification from one chat, for the per-chat throttle (10 an hour)."""

    __tablename__ = "verification_failures"
    __table_args__ = (Index("ix_verification_failures_chat_at", "channel", "sender", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AccountLock(Base):
    """Consecutive wrong PINs for one person, across every chat; locked_until when 5 reached."""

    __tablename__ = "account_locks"

    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SmsOptOut(Base):
    """A phone number that sent STOP (or a synonym): the bot stays silent until START."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PinRequest(Base):
    """A request to re-mail the PIN notice; staff export open ones and mark them mailed."""

    __tablename__ = "pin_requests"
    __table_args__ = (Index("ix_pin_requests_person_at", "person_id", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)  # open | mailed
    mailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OfficeMessage(Base):
    """The outbox: a parent's message to their office, delivered by the outbox worker."""

    __tablename__ = "office_messages"
    __table_args__ = (Index("ix_office_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    case_number: Mapped[str] = mapped_column(String(20))
    office_code: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(12))  # receiving | paying
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # queued | sending (in flight) | mailed | answered | read | failed
    status: Mapped[str] = mapped_column(String(8), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OfficeAnswer(Base):
    """An office's answer to a parent's office message: typed by staff (`csbot office-messages
    reply`) or read from a reply to the office mail. The parent reads it with MESSAGES after
    verification; `read_at` is when it was first shown."""

    __tablename__ = "office_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("office_messages.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8))  # staff | mail
    author: Mapped[str] = mapped_column(String(254))  # the staff login, or the office's address
    # The reply mail's Message-ID: a mail recorded and not yet marked seen is not recorded twice.
    mail_message_id: Mapped[str | None] = mapped_column(String(254), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditRecord(Base):
    """Who viewed which kind of record, through which chat, when; never the data itself."""

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_person_at", "person_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    record_kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # What a staff action touched (a message reference, request ids, a searched person id);
    # never account data. Parents' views leave it empty; staff actions have channel "desk"
    # and the staff user as `sender`.
    detail: Mapped[str | None] = mapped_column(String(200))


class DocumentLinkOpen(Base):
    """How often one document link was opened, keyed by the SHA-256 of its token (never the
    token): the link route refuses a link opened too often. Pruned once the link expired."""

    __tablename__ = "document_link_opens"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    opens: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class HealthProbe(Base):
    """One row that GET /healthz rewrites every few seconds with the time of its probe: a
    commit that succeeds proves the database still accepts writes (bot/web/health.py)."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class OutboundMessage(Base):
    """The outbound queue: every message the bot sends outside a webhook answer (Telegram
    replies, office-answer notices, alerts), delivered by the sender in csbot serve / worker.

    `payload` is what the channel's sender needs, rendered when queued (bot/outbound/messages.py
    names its shapes); `priority` orders the work (lower first: deleting a secret, then replies,
    then notices and alerts); within one chat, messages leave in `id` order."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        # The claim walks one status in priority and id order and stops at its batch size.
        Index("ix_outbound_messages_claim_order", "status", "priority", "id"),
        Index("ix_outbound_messages_chat", "channel", "recipient", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # delete | reply | notice | alert
    channel: Mapped[str] = mapped_column(String(16))  # sms | telegram
    recipient: Mapped[str] = mapped_column(String(64))  # E.164 number or Telegram chat id
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer)
    # queued | sending | sent | delivered | undelivered | failed | suppressed
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)  # Twilio SID, Telegram message id
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)



class UnreachableChat(Base):
    """A Telegram chat that blocked the bot (the Bot API answered 403): the outbound queue
    sends it nothing more until a new message from that chat clears the row."""

    __tablename__ = "unreachable_chats"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(64), primary_key=True)
    marked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- alerts a parent asked for (bot/alerts) -------------------------------------------------


class AlertConsent(Base):
    """A chat's consent to alerts: who, which chat, when, in which language, and the exact words
    the parent was shown when turning them on. Never deleted: OFF, SMS STOP (or Twilio's 21610)
    and a Telegram chat that blocked the bot set `withdrawn_at` and the reason, so the record of
    what was agreed to survives. At most one consent in force per person and chat."""

    __tablename__ = "alert_consents"
    __table_args__ = (
        Index("ix_alert_consents_chat", "channel", "recipient"),
        Index("uq_alert_consents_in_force", "person_id", "channel", "recipient", unique=True,
              sqlite_where=text("withdrawn_at IS NULL"), postgresql_where=text("withdrawn_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(32), index=True)  # no foreign key: outlives --replace
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))  # E.164 number or Telegram chat id
    locale: Mapped[str] = mapped_column(String(2))
    words_shown: Mapped[str] = mapped_column(Text)
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(String(16))  # off | stop | unsubscribed | blocked


class AlertEvent(Base):
    """Something a parent may be alerted to: a new disbursement (payment_sent), a new payment
    (payment_received), a coupon due soon (coupon_due). The unique key (person, kind, source
    record) is what makes a re-import, a --replace or a second daily check record nothing new.
    `dispatched_at` is set once the event was turned into alerts (bot/alerts/delivery.py)."""

    __tablename__ = "alert_events"
    __table_args__ = (
        UniqueConstraint("person_id", "kind", "source_key", name="uq_alert_events_key"),
        Index("ix_alert_events_undispatched", "dispatched_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))  # payment_sent | payment_received | coupon_due
    source_key: Mapped[str] = mapped_column(String(64))  # the disbursement, payment or coupon id
    event_date: Mapped[dt.date] = mapped_column(Date)  # the day sent, received or due
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """One alert for one chat, or why there is none. One per person, kind, day and chat: a
    parent with several cases gets one "a payment was sent to you on Nov 28", not one per case.
    status: pending (queued as `outbound_message_id`; sent once that message is) or suppressed
    with `reason` (no consent, opted out, unreachable). A suppressed row with no consent in
    force has channel and recipient ''."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("person_id", "kind", "event_date", "channel", "recipient", name="uq_alerts_once"),
        Index("ix_alerts_chat", "channel", "recipient", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))
    event_date: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # pending | suppressed
    reason: Mapped[str | None] = mapped_column(String(40))
    outbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- the staff desk ---------------------------------------------------------------------------


class StaffUser(Base):
    """A person who signs in to the staff desk (`csbot desk`). The password exists only as an
    Argon2id hash. `session_version` is in every session cookie: disabling the user, resetting
    the password or signing out raises it, so older cookies stop working on their next request."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    all_offices: Mapped[bool] = mapped_column(default=False)
    supervisor: Mapped[bool] = mapped_column(default=False)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StaffUserOffice(Base):
    """One office a staff user works for (none when `all_offices`). No foreign key to
    `offices`: an import with --replace may drop an office; the user then sees nothing there."""

    __tablename__ = "staff_user_offices"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
