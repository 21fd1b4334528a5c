"""Who may open which document, and opening it: the record, the check, the PDF, the audit.

Who may open what is checked here, not by the caller: the person in the reference must be
a party to the record's case in a role that may see it (statement and payment history:
either parent; coupon: the paying parent; notice: the receiving parent). Anything else is
`DocumentNotFound`, which the link route answers with the same 404 as a bad token.

Telegram uploads the bytes (`open_document`); SMS replies carry an encrypted link
(bot.documents.links) served by bot.documents.route at GET /d/{token} (`open_linked_document`).

Rendering reads only, in a read-only transaction (on SQLite: deferred, no write lock), so a
slow PDF never holds up a message. The audit record (and, for a link, its count of opens) is
written afterwards in its own short transaction. A link opens at most `OPENS_PER_LINK` times:
counted in the database, so every worker and every server sharing it sees the same count.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.documents.pdf import (
    Parties,
    Sheet,
    draw_coupon,
    draw_notice,
    draw_payment_history,
    draw_statement,
)
from bot.hashing import KeyedHasher
from bot.i18n import translator
from bot.runtime import Runtime
from bot.services.accounts import StoreAccountServices
from bot.store.dialect import count_up, read_only
from bot.store.models import (
    AuditRecord,
    Coupon,
    DocumentLinkOpen,
    Notice,
    Person,
    Statement,
)
from dialogs.ports import PaymentView, Role
from dialogs.replies import DocumentKind, DocumentRef

# "Produced on" is the agency's calendar day, not UTC's.
try:
    AGENCY_TIMEZONE: dt.tzinfo = ZoneInfo("America/New_York")
except ZoneInfoNotFoundError:  # a machine without tz data: UTC is the honest fallback
    AGENCY_TIMEZONE = dt.UTC

_PAGE_OF_PAYMENTS = 1000
# A parent opens a link once or twice (a retry, another phone); ten is far beyond that and
# stops one leaked or scripted link from rendering PDFs without end (it lives 15 minutes).
OPENS_PER_LINK = 10
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

R = TypeVar("R")


class DocumentNotFound(LookupError):
    """No such record, or not this person's to see. Deliberately says nothing more."""


class TooManyOpens(Exception):
    """This link was already opened OPENS_PER_LINK times."""


def agency_today(now: dt.datetime) -> dt.date:
    return now.astimezone(AGENCY_TIMEZONE).date()


@dataclass(frozen=True)
class _Reading:
    """What drawing a document may read besides its record."""

    services: StoreAccountServices
    settings: Settings


@dataclass(frozen=True)
class _Kind(Generic[R]):
    """One kind of document: its record, who may open it, how it is drawn and named."""

    audit_kind: str  # AuditRecord.record_kind
    role: Role | None  # the role that may open it; None: either parent of the case
    find: Callable[[Session, str], R | None]  # the record by its id
    case_number: Callable[[R], str]
    draw: Callable[[Sheet, Parties, R, _Reading], None]
    filename: Callable[[R], str]


def _safe(text: str) -> str:
    return _FILENAME_UNSAFE.sub("_", text)[:40] or "document"


def _all_payments(services: StoreAccountServices, case_number: str) -> list[PaymentView]:
    payments: list[PaymentView] = []
    while True:
        page = services.payments([case_number], len(payments), _PAGE_OF_PAYMENTS)
        payments.extend(page.items)
        if not page.items or len(payments) >= page.total:
            return payments


def _case_itself(session: Session, case_number: str) -> str:
    return case_number  # the party check finds the case or refuses


def _by_id(model: type[R]) -> Callable[[Session, str], R | None]:
    return lambda session, record_id: session.get(model, record_id)


_PAYMENT_HISTORY = _Kind[str](
    audit_kind="payment_history_pdf",
    role=None,
    find=_case_itself,
    case_number=lambda case_number: case_number,
    draw=lambda sheet, parties, case_number, reading: draw_payment_history(
        sheet, parties, _all_payments(reading.services, case_number)
    ),
    filename=lambda case_number: f"payment-history-{_safe(case_number)}.pdf",
)
_STATEMENT = _Kind[Statement](
    audit_kind="statement_pdf",
    role=None,
    find=_by_id(Statement),
    case_number=lambda statement: statement.case_number,
    draw=lambda sheet, parties, statement, reading: draw_statement(sheet, parties, statement),
    filename=lambda statement: (
        f"statement-{_safe(statement.case_number)}-{statement.period_end.strftime('%Y-%m')}.pdf"
    ),
)
_COUPON = _Kind[Coupon](
    audit_kind="coupon_pdf",
    role=Role.PAYING,
    find=_by_id(Coupon),
    case_number=lambda coupon: coupon.case_number,
    draw=lambda sheet, parties, coupon, reading: draw_coupon(
        sheet, parties, coupon, reading.settings.remit_to_address
    ),
    filename=lambda coupon: f"coupon-{_safe(coupon.case_number)}-{coupon.due_date.isoformat()}.pdf",
)
_NOTICE = _Kind[Notice](
    audit_kind="notice_pdf",
    role=Role.RECEIVING,
    find=_by_id(Notice),
    case_number=lambda notice: notice.case_number,
    draw=lambda sheet, parties, notice, reading: draw_notice(sheet, parties, notice),
    filename=lambda notice: f"notice-{_safe(notice.case_number)}-{_safe(notice.month)}.pdf",
)
KINDS: dict[DocumentKind, _Kind[Any]] = {
    DocumentKind.PAYMENT_HISTORY: _PAYMENT_HISTORY,
    DocumentKind.STATEMENT: _STATEMENT,
    DocumentKind.COUPON: _COUPON,
    DocumentKind.NOTICE: _NOTICE,
}
AUDIT_KINDS = {kind: spec.audit_kind for kind, spec in KINDS.items()}


def _parties(
    session: Session, services: StoreAccountServices, ref: DocumentRef, case_number: str
) -> Parties:
    """The person and the case, if the person may see this kind of document for it."""
    person = session.get(Person, ref.person_id)
    if person is None:
        raise DocumentNotFound()
    allowed_role = KINDS[DocumentKind(ref.kind)].role
    for case in services.cases(ref.person_id):
        if case.case_number == case_number and (allowed_role is None or case.role == allowed_role):
            return Parties(f"{person.first_name} {person.last_name}".strip(), case)
    raise DocumentNotFound()


def render_document(
    session: Session, ref: DocumentRef, *, settings: Settings, today: dt.date
) -> tuple[str, bytes]:
    """(file name, PDF bytes) for `ref`, or DocumentNotFound. Reads only; writes nothing."""
    now = dt.datetime.now(dt.UTC)
    services = StoreAccountServices(session, KeyedHasher(settings.require_secret_key()), now)
    kind = KINDS[DocumentKind(ref.kind)]
    record = kind.find(session, ref.record_id)
    if record is None:
        raise DocumentNotFound()
    parties = _parties(session, services, ref, kind.case_number(record))
    sheet = Sheet(translator(ref.locale), settings, today)
    kind.draw(sheet, parties, record, _Reading(services, settings))
    return kind.filename(record), sheet.output()


def _render_reading(
    runtime: Runtime, ref: DocumentRef, now: dt.datetime, link_digest: str | None
) -> tuple[str, bytes]:
    """Render in a read-only transaction; with `link_digest`, first refuse a used-up link."""
    with Session(read_only(runtime.db)) as session, session.begin():
        if link_digest is not None:
            opened = session.get(DocumentLinkOpen, link_digest)
            if opened is not None and opened.opens >= OPENS_PER_LINK:
                raise TooManyOpens()
        return render_document(session, ref, settings=runtime.settings, today=agency_today(now))


def _audit(session: Session, ref: DocumentRef, channel: str, sender: str, now: dt.datetime) -> None:
    session.add(
        AuditRecord(
            person_id=ref.person_id,
            channel=channel[:16],
            sender=sender[:64],
            record_kind=AUDIT_KINDS[DocumentKind(ref.kind)],
            at=now,
        )
    )


def open_document(
    runtime: Runtime, ref: DocumentRef, *, channel: str, sender: str, now: dt.datetime
) -> tuple[str, bytes]:
    """Render `ref` (reading only), then record the view in the audit trail. Blocking."""
    filename, pdf = _render_reading(runtime, ref, now, None)
    with runtime.write() as session:
        _audit(session, ref, channel, sender, now)
    return filename, pdf


def open_linked_document(
    runtime: Runtime, ref: DocumentRef, link_digest: str, expires_at: dt.datetime,
    *, sender: str, now: dt.datetime,
) -> tuple[str, bytes]:
    """`open_document` for a link (`link_digest`: bot.documents.links.token_digest), at most
    OPENS_PER_LINK times: TooManyOpens before rendering once the count is reached; the count
    and the audit record are written together, in one short transaction. Blocking."""
    filename, pdf = _render_reading(runtime, ref, now, link_digest)
    with runtime.write() as session:
        key = {"token_digest": link_digest}
        if count_up(session, DocumentLinkOpen, key, "opens", expires_at=expires_at) > OPENS_PER_LINK:
            raise TooManyOpens()  # opened meanwhile by others; rolled back, not served
        _audit(session, ref, "link", sender, now)
    return filename, pdf
