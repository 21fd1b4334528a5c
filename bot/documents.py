"""Printable documents (PDF): payment history, account statement, payment coupon, monthly notice.

The source page promises parents can "view and print" these. Each document is drawn with
fpdf2 in the parent's language, with the program's name, the date produced, the parent's
name and the case number; never an SSN, never the other parent's name or address.

Who may open what is checked here, not by the caller: the person in the reference must be
a party to the record's case in a role that may see it (statement and payment history:
either parent; coupon: the paying parent; notice: the receiving parent). Anything else is
`DocumentNotFound`, which the link route answers with the same 404 as a bad token.

Telegram uploads the bytes (`open_document`); SMS replies carry a signed link
(bot.doclinks) served by `document_component` at GET /d/{token}.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.config import Settings
from bot.doclinks import read_document_token
from bot.hashing import KeyedHasher
from bot.i18n import Translator, translator
from bot.runtime import Runtime
from bot.services.accounts import StoreAccountServices
from bot.store.models import AuditRecord, Coupon, Notice, Person, Statement
from dialogs.answers import SOURCES as PAYMENT_SOURCES  # the same words as the chat listing
from dialogs.ports import CaseView, PaymentView, Role
from dialogs.replies import DocumentKind, DocumentRef
from dialogs.text import HELPLINE, TTY

log = logging.getLogger(__name__)
# fontTools logs the glyph names of every subset at INFO: the letters and digits of a
# parent's document. Never below WARNING.
if logging.getLogger("fontTools").getEffectiveLevel() < logging.WARNING:
    logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIR = Path(__file__).with_name("fonts")
FONT_FAMILY = "DejaVu"
# "Produced on" is the agency's calendar day, not UTC's.
try:
    AGENCY_TIMEZONE: dt.tzinfo = ZoneInfo("America/New_York")
except ZoneInfoNotFoundError:  # a machine without tz data: UTC is the honest fallback
    AGENCY_TIMEZONE = dt.UTC

AUDIT_KINDS = {
    DocumentKind.PAYMENT_HISTORY: "payment_history_pdf",
    DocumentKind.STATEMENT: "statement_pdf",
    DocumentKind.COUPON: "coupon_pdf",
    DocumentKind.NOTICE: "notice_pdf",
}
# Which role may open which kind (None: either role).
_ALLOWED_ROLE: dict[DocumentKind, Role | None] = {
    DocumentKind.PAYMENT_HISTORY: None,
    DocumentKind.STATEMENT: None,
    DocumentKind.COUPON: Role.PAYING,
    DocumentKind.NOTICE: Role.RECEIVING,
}
_PAGE_OF_PAYMENTS = 1000
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DocumentNotFound(LookupError):
    """No such record, or not this person's to see. Deliberately says nothing more."""


def agency_today(now: dt.datetime) -> dt.date:
    return now.astimezone(AGENCY_TIMEZONE).date()


# --- reading the data --------------------------------------------------------------------


@dataclass(frozen=True)
class _Parties:
    person_name: str
    case: CaseView


def _parties(session: Session, services: StoreAccountServices, ref: DocumentRef, case_number: str) -> _Parties:
    """The person and the case, if the person may see this kind of document for it."""
    person = session.get(Person, ref.person_id)
    if person is None:
        raise DocumentNotFound()
    allowed_role = _ALLOWED_ROLE[DocumentKind(ref.kind)]
    for case in services.cases(ref.person_id):
        if case.case_number == case_number and (allowed_role is None or case.role == allowed_role):
            return _Parties(f"{person.first_name} {person.last_name}".strip(), case)
    raise DocumentNotFound()


def _all_payments(services: StoreAccountServices, case_number: str) -> list[PaymentView]:
    payments: list[PaymentView] = []
    while True:
        page = services.payments([case_number], len(payments), _PAGE_OF_PAYMENTS)
        payments.extend(page.items)
        if not page.items or len(payments) >= page.total:
            return payments


def render_document(
    session: Session, ref: DocumentRef, *, settings: Settings, today: dt.date
) -> tuple[str, bytes]:
    """(file name, PDF bytes) for `ref`, or DocumentNotFound. Reads only; writes nothing."""
    now = dt.datetime.now(dt.UTC)
    services = StoreAccountServices(session, KeyedHasher(settings.require_secret_key()), now)
    kind = DocumentKind(ref.kind)
    t = translator(ref.locale)
    if kind is DocumentKind.PAYMENT_HISTORY:
        parties = _parties(session, services, ref, ref.record_id)
        payments = _all_payments(services, ref.record_id)
        sheet = _Sheet(t, settings, today)
        _payment_history(sheet, parties, payments)
        return f"payment-history-{_safe(ref.record_id)}.pdf", sheet.output()
    if kind is DocumentKind.STATEMENT:
        statement = session.get(Statement, ref.record_id)
        if statement is None:
            raise DocumentNotFound()
        parties = _parties(session, services, ref, statement.case_number)
        sheet = _Sheet(t, settings, today)
        _statement(sheet, parties, statement)
        period = statement.period_end.strftime("%Y-%m")
        return f"statement-{_safe(statement.case_number)}-{period}.pdf", sheet.output()
    if kind is DocumentKind.COUPON:
        coupon = session.get(Coupon, ref.record_id)
        if coupon is None:
            raise DocumentNotFound()
        parties = _parties(session, services, ref, coupon.case_number)
        sheet = _Sheet(t, settings, today)
        _coupon(sheet, parties, coupon, settings.remit_to_address)
        return (
            f"coupon-{_safe(coupon.case_number)}-{coupon.due_date.isoformat()}.pdf",
            sheet.output(),
        )
    notice = session.get(Notice, ref.record_id)
    if notice is None:
        raise DocumentNotFound()
    parties = _parties(session, services, ref, notice.case_number)
    sheet = _Sheet(t, settings, today)
    _notice(sheet, parties, notice)
    return f"notice-{_safe(notice.case_number)}-{_safe(notice.month)}.pdf", sheet.output()


def open_document(
    runtime: Runtime, ref: DocumentRef, *, channel: str, sender: str, now: dt.datetime
) -> tuple[str, bytes]:
    """Render `ref` and record the view in the audit trail (one transaction). Blocking."""
    with runtime.sessions() as session, session.begin():
        filename, pdf = render_document(
            session, ref, settings=runtime.settings, today=agency_today(now)
        )
        session.add(
            AuditRecord(
                person_id=ref.person_id,
                channel=channel[:16],
                sender=sender[:64],
                record_kind=AUDIT_KINDS[DocumentKind(ref.kind)],
                at=now,
            )
        )
    return filename, pdf


def _safe(text: str) -> str:
    return _FILENAME_UNSAFE.sub("_", text)[:40] or "document"


# --- drawing -----------------------------------------------------------------------------


class _Pdf(FPDF):
    def __init__(self, footer_text: Callable[[int], str]) -> None:
        super().__init__(orientation="portrait", unit="mm", format="Letter")
        self._footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT_FAMILY, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self._footer_text(self.page_no()), align="C")
        self.set_text_color(0, 0, 0)


class _Sheet:
    """One document being drawn: fonts, header, label/value rows, footer."""

    LABEL_WIDTH = 70.0
    LINE = 7.0

    def __init__(self, t: Translator, settings: Settings, today: dt.date) -> None:
        self.t = t
        self.program_name = settings.program_name
        self.today = today
        _ = t.gettext
        helpline = _("Questions? Call {phone} (TTY {tty}).").format(phone=HELPLINE, tty=TTY)

        def footer_text(page: int) -> str:
            # "{nb}" is fpdf2's alias for the page count, filled in at the end.
            return helpline + "  " + _("Page {page} of {pages}").format(page=page, pages="{nb}")

        pdf = _Pdf(footer_text)
        pdf.add_font(FONT_FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font(FONT_FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        pdf.set_auto_page_break(auto=True, margin=22)
        pdf.set_margins(20, 18, 20)
        pdf.set_creator(settings.program_name)
        pdf.set_lang("fr-FR" if t.locale == "fr" else "en-US")
        pdf.add_page()
        self.pdf = pdf

    def header(self, title: str, parties: _Parties) -> None:
        _ = self.t.gettext
        pdf = self.pdf
        pdf.set_title(title)
        pdf.set_font(FONT_FAMILY, "B", 15)
        pdf.cell(0, 8, self.program_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT_FAMILY, "B", 13)
        pdf.cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_draw_color(60, 60, 60)
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
        pdf.ln(4)
        self.row(_("Parent"), parties.person_name)
        self.row(_("Case number"), parties.case.case_number)
        self.row(_("Date produced"), self.t.date(self.today))
        pdf.ln(4)

    def row(self, label: str, value: str, *, bold: bool = False) -> None:
        pdf = self.pdf
        pdf.set_font(FONT_FAMILY, "", 11)
        pdf.cell(self.LABEL_WIDTH, self.LINE, label)
        pdf.set_font(FONT_FAMILY, "B" if bold else "", 11)
        pdf.multi_cell(0, self.LINE, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(self, text: str, *, size: float = 10, bold: bool = False) -> None:
        self.pdf.set_font(FONT_FAMILY, "B" if bold else "", size)
        self.pdf.multi_cell(0, 5.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _payment_history(sheet: _Sheet, parties: _Parties, payments: list[PaymentView]) -> None:
    t, _ = sheet.t, sheet.t.gettext
    pdf = sheet.pdf
    sheet.header(_("Payment history"), parties)
    if not payments:
        sheet.paragraph(_("No payments are on record for this case."))
        return
    total = sum((p.amount for p in payments), Decimal("0"))
    sheet.paragraph(
        t.ngettext(
            "{count} payment, newest first. Total: {total}.",
            "{count} payments, newest first. Total: {total}.",
            len(payments),
        ).format(count=len(payments), total=t.money(total))
    )
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "", 10)
    with pdf.table(
        col_widths=(45, 45, 86),
        text_align=("LEFT", "RIGHT", "LEFT"),
        line_height=6.5,
        headings_style=_bold_headings(),
        first_row_as_headings=True,
    ) as table:
        table.row((_("Date"), _("Amount"), _("Source")))
        for payment in payments:
            label = PAYMENT_SOURCES.get(payment.source)
            source = _(label) if label else payment.source
            table.row((t.date(payment.date), t.money(payment.amount), source[:1].upper() + source[1:]))


def _bold_headings():
    from fpdf.fonts import FontFace

    return FontFace(family=FONT_FAMILY, emphasis="BOLD", fill_color=(230, 230, 230))


def _statement(sheet: _Sheet, parties: _Parties, st: Statement) -> None:
    t, _ = sheet.t, sheet.t.gettext
    sheet.header(_("Account statement"), parties)
    sheet.row(
        _("Statement period"),
        _("{start} to {end}").format(start=t.date(st.period_start), end=t.date(st.period_end)),
    )
    sheet.pdf.ln(2)
    sheet.row(_("Opening balance"), t.money(st.opening_balance))
    sheet.row(_("Support due"), t.money(st.support_due))
    sheet.row(_("Payments received"), t.money(st.payments_received))
    sheet.row(_("Closing balance"), t.money(st.closing_balance), bold=True)


def _notice(sheet: _Sheet, parties: _Parties, notice: Notice) -> None:
    t, _ = sheet.t, sheet.t.gettext
    sheet.header(_("Monthly notice"), parties)
    sheet.row(_("Month"), t.month(notice.month))
    sheet.pdf.ln(2)
    sheet.row(_("Collected"), t.money(notice.collected))
    sheet.row(_("Disbursed to you"), t.money(notice.disbursed))
    sheet.row(_("Balance owed"), t.money(notice.balance_owed), bold=True)


def _coupon(sheet: _Sheet, parties: _Parties, coupon: Coupon, remit_to: str) -> None:
    t, _ = sheet.t, sheet.t.gettext
    pdf = sheet.pdf
    amount, due = t.money(coupon.amount), t.date(coupon.due_date)
    sheet.header(_("Payment coupon"), parties)
    sheet.row(_("Coupon number"), coupon.id)
    sheet.row(_("Amount due"), amount, bold=True)
    sheet.row(_("Due date"), due, bold=True)
    pdf.ln(3)
    sheet.paragraph(
        _(
            "Detach the stub below and mail it with your payment. Write your case number"
            " on your check or money order. Do not send cash."
        )
    )
    pdf.ln(2)
    sheet.paragraph(_("Remit to:"), bold=True)
    sheet.paragraph(remit_to)

    # The stub sits at a fixed place near the bottom so the cut line is the same on every coupon.
    cut_y = max(pdf.get_y() + 10, 168.0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_dash_pattern(dash=2.5, gap=1.5)
    pdf.line(pdf.l_margin, cut_y, pdf.w - pdf.r_margin, cut_y)
    pdf.set_dash_pattern()
    pdf.set_xy(pdf.l_margin, cut_y - 5)
    pdf.set_font(FONT_FAMILY, "", 8)
    pdf.cell(0, 4, "\u2702 " + _("Cut here"), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_xy(pdf.l_margin, cut_y + 5)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.cell(0, 7, _("Payment coupon: return this stub with your payment"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    sheet.row(_("Parent"), parties.person_name)
    sheet.row(_("Case number"), coupon.case_number, bold=True)
    sheet.row(_("Coupon number"), coupon.id)
    sheet.row(_("Amount due"), amount, bold=True)
    sheet.row(_("Due date"), due)
    sheet.row(_("Amount enclosed"), "$ ____________")
    sheet.row(_("Remit to"), remit_to)


# --- GET /d/{token} ------------------------------------------------------------------------


def _not_found() -> Response:
    # One body for every failure: expired, altered, malformed, unknown, not yours.
    return PlainTextResponse("Not found\n", status_code=404, headers={"Cache-Control": "no-store"})


class DocumentComponent:
    """The web component serving documents offered by link (SMS)."""

    def __init__(self, runtime: Runtime, clock: Callable[[], dt.datetime]) -> None:
        self._runtime = runtime
        self._clock = clock
        self.routes: list[BaseRoute] = [Route("/d/{token}", self._get, methods=["GET"])]

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def _get(self, request: Request) -> Response:
        now = self._clock()
        ref = read_document_token(self._runtime.settings, request.path_params["token"], now)
        if ref is None:
            return _not_found()
        client = request.client.host if request.client else "unknown"
        try:
            filename, pdf = await anyio.to_thread.run_sync(
                partial(open_document, self._runtime, ref, channel="link", sender=client, now=now)
            )
        except DocumentNotFound:
            return _not_found()
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",  # the URL is a bearer token
            },
        )


def document_component(
    runtime: Runtime, *, clock: Callable[[], dt.datetime] | None = None
) -> DocumentComponent:
    return DocumentComponent(runtime, clock or (lambda: dt.datetime.now(dt.UTC)))
