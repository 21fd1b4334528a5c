"""Drawing the four printable documents with fpdf2, in the parent's language.

Each carries the program's name, the date produced, the parent's name and the case number;
never an SSN, never the other parent's name or address. What is drawn comes from
bot.documents.access, which has already checked who may see it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from bot.config import Settings
from bot.i18n import Translator
from bot.store.models import Coupon, Notice, Statement
from dialogs.answers import SOURCES as PAYMENT_SOURCES  # the same words as the chat listing
from dialogs.ports import CaseView, PaymentView
from dialogs.text import HELPLINE, TTY

# fontTools logs the glyph names of every subset at INFO: the letters and digits of a
# parent's document. Never below WARNING.
if logging.getLogger("fontTools").getEffectiveLevel() < logging.WARNING:
    logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIR = Path(__file__).with_name("fonts")
FONT_FAMILY = "DejaVu"


@dataclass(frozen=True)
class Parties:
    """Whom the document is for: the parent's name and their case (checked by the caller)."""

    person_name: str
    case: CaseView


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


class Sheet:
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

    def header(self, title: str, parties: Parties) -> None:
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


def draw_payment_history(sheet: Sheet, parties: Parties, payments: list[PaymentView]) -> None:
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


def _bold_headings() -> FontFace:
    return FontFace(family=FONT_FAMILY, emphasis="BOLD", fill_color=(230, 230, 230))


def draw_statement(sheet: Sheet, parties: Parties, st: Statement) -> None:
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


def draw_notice(sheet: Sheet, parties: Parties, notice: Notice) -> None:
    t, _ = sheet.t, sheet.t.gettext
    sheet.header(_("Monthly notice"), parties)
    sheet.row(_("Month"), t.month(notice.month))
    sheet.pdf.ln(2)
    sheet.row(_("Collected"), t.money(notice.collected))
    sheet.row(_("Sent to you"), t.money(notice.disbursed))  # the chat's words for it
    sheet.row(_("Balance owed"), t.money(notice.balance_owed), bold=True)


_STATE_AND_ZIP = re.compile(r"^[A-Z]{2} [0-9]{5}(-[0-9]{4})?$")


def address_lines(address: str) -> list[str]:
    """A one-line postal address as an envelope writes it: "NYS Child Support Processing
    Center, PO Box 15363, Albany, NY 12212-5363" -> name / box / "Albany, NY 12212-5363"."""
    parts = [part.strip() for part in address.split(",") if part.strip()]
    lines: list[str] = []
    for part in parts:
        if _STATE_AND_ZIP.match(part) and lines:
            lines[-1] = f"{lines[-1]}, {part}"  # the city, state and ZIP share a line
        else:
            lines.append(part)
    return lines


def payee_of(address: str) -> str:
    """Who a check is made out to: the first line of the remit-to address."""
    return address_lines(address)[0] if address.strip() else ""


def amount_blank(t: Translator) -> str:
    """A blank for the amount, written the way the page writes money ("$____" / "____ $US")."""
    return re.sub(r"[0-9][0-9.,\s\u00a0\u202f]*[0-9]", "____________", t.money(Decimal("0")))


def draw_coupon(sheet: Sheet, parties: Parties, coupon: Coupon, remit_to: str) -> None:
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
    sheet.paragraph(_("Make your check or money order payable to:"), bold=True)
    sheet.paragraph(payee_of(remit_to))
    pdf.ln(1)
    sheet.paragraph(_("Mail it to:"), bold=True)
    sheet.paragraph("\n".join(address_lines(remit_to)))

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
    sheet.row(_("Amount enclosed"), amount_blank(t))
    sheet.row(_("Payable to"), payee_of(remit_to))
    sheet.row(_("Mail to"), "\n".join(address_lines(remit_to)))
