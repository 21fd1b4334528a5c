"""Answers about the account: each covers every case of the parent in the role that applies.

Case numbers are masked to their last four digits; nothing names or locates the other parent;
every view writes an audit record (the kind of record, never the data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from dialogs.context import DialogContext, Words
from dialogs.menu import choice
from dialogs.ports import (
    AccountServices,
    CaseView,
    CouponView,
    DisbursementView,
    NoticeView,
    Page,
    PaymentView,
    Role,
    StatementView,
)
from dialogs.replies import DocumentKind, DocumentRef
from dialogs.text import N_
from dialogs.vocabulary import Intent

FREQUENCIES = {
    "weekly": N_("weekly"),
    "biweekly": N_("every two weeks"),
    "semimonthly": N_("twice a month"),
    "monthly": N_("monthly"),
}
SOURCES = {
    "income_withholding": N_("income withholding"),
    "direct_payment": N_("direct payment"),
    "tax_refund_offset": N_("tax refund offset"),
    "unemployment_benefits": N_("unemployment benefits"),
    "other": N_("other"),
}
METHODS = {
    "direct_deposit": N_("direct deposit"),
    "debit_card": N_("debit card"),
    "check": N_("check"),
}


R = TypeVar("R")

NO_OPEN_CASE = N_("We have no open case for you.")
COUPONS_ARE_FOR_PAYING_PARENTS = N_(
    "Payment coupons are for the parent who pays support. You receive support: send"
    " DISBURSEMENTS to see the payments sent to you."
)
NOTICES_ARE_FOR_RECEIVING_PARENTS = N_(
    "The monthly notice is for the parent who receives support. On your cases you"
    " pay support: send STATEMENT for your account statement."
)


def mask(case_number: str) -> str:
    return "*" + case_number[-4:]


def mask_within(record_id: str, case_number: str) -> str:
    """A record id that spells out its case number ("CS10000001-K1"), masked the same way."""
    return record_id.replace(case_number, mask(case_number)) if case_number else record_id


def _cases(ctx: DialogContext, role: Role | None = None, *, refusal: str = NO_OPEN_CASE) -> list[CaseView]:
    """The parent's cases (in `role` when given); when there are none, says `refusal`."""
    cases = [c for c in ctx.services.cases(ctx.conversation.person_id or "") if role is None or c.role is role]
    if not cases:
        ctx.result.say(ctx.t.gettext(refusal))
    return cases


def _audit(ctx: DialogContext, kind: str) -> None:
    ctx.services.record_view(ctx.conversation.person_id or "", ctx.chat, kind)


def _document(ctx: DialogContext, kind: DocumentKind, record_id: str) -> DocumentRef:
    return DocumentRef(kind, ctx.conversation.person_id or "", record_id, ctx.locale)


def balance(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext
    cases = _cases(ctx)
    if not cases:
        return
    _audit(ctx, "balance")
    for case in cases:
        values = dict(
            case=mask(case.case_number),
            amount=t.money(case.support_amount),
            frequency=_(FREQUENCIES.get(case.support_frequency, case.support_frequency)),
            arrears=t.money(case.arrears_balance),
            date=t.date(case.next_due_date) if case.next_due_date else "",
        )
        if case.role is Role.RECEIVING:
            if case.next_due_date:
                text = _(
                    "Case {case} (you receive support): {amount} {frequency}. Past-due support"
                    " owed to you: {arrears}. Next payment due {date}."
                )
            else:
                text = _(
                    "Case {case} (you receive support): {amount} {frequency}. Past-due support"
                    " owed to you: {arrears}."
                )
        elif case.next_due_date:
            text = _(
                "Case {case} (you pay support): {amount} {frequency}. Past-due balance:"
                " {arrears}. Next payment due {date}."
            )
        else:
            text = _(
                "Case {case} (you pay support): {amount} {frequency}. Past-due balance:"
                " {arrears}."
            )
        ctx.result.say(text.format(**values))


@dataclass(frozen=True)
class Listing:
    """A long list shown a page at a time (MORE for the next): payments or disbursements."""

    kind: str  # remembered for MORE
    audit_kind: str
    role: Role | None  # whose cases it covers; None: both roles
    refusal: str  # what a parent without such a case is told
    empty: str
    empty_for_case: str  # under a case's heading
    header: Callable[[Words, int], str]  # "{first}-{last} of {total}" with the right plural
    page: Callable[[AccountServices, list[str], int, int], Page[Any]]
    describe: Callable[[Words, Any], str]
    printable: bool  # PDF offers the printable payment history


def _payment_line(t: Words, item: PaymentView) -> str:
    return t.gettext("{date}: {amount}, {source}").format(
        date=t.date(item.date), amount=t.money(item.amount), source=t.gettext(SOURCES.get(item.source, item.source))
    )


def _disbursement_line(t: Words, item: DisbursementView) -> str:
    return t.gettext("{date}: {amount} by {method}").format(
        date=t.date(item.date), amount=t.money(item.amount), method=t.gettext(METHODS.get(item.method, item.method))
    )


PAYMENTS = Listing(
    kind="payments",
    audit_kind="payment_history",
    role=None,
    refusal=NO_OPEN_CASE,
    empty=N_("There are no payments on file for your cases yet."),
    empty_for_case=N_("No payments on file for this case yet."),
    header=lambda t, total: t.ngettext(
        "Payment {first}-{last} of {total}, newest first:", "Payments {first}-{last} of {total}, newest first:", total
    ),
    page=lambda services, cases, offset, limit: services.payments(cases, offset, limit),
    describe=_payment_line,
    printable=True,
)
DISBURSEMENTS = Listing(
    kind="disbursements",
    audit_kind="disbursements",
    role=Role.RECEIVING,
    refusal=N_(
        "Disbursements are the payments sent to a parent who receives support. On your"
        " cases you pay support: send PAYMENTS for your payment history."
    ),
    empty=N_("No payments have been sent to you yet."),
    empty_for_case=N_("No payments sent to you for this case yet."),
    header=lambda t, total: t.ngettext(
        "Payment sent to you {first}-{last} of {total}, newest first:",
        "Payments sent to you {first}-{last} of {total}, newest first:",
        total,
    ),
    page=lambda services, cases, offset, limit: services.disbursements(cases, offset, limit),
    describe=_disbursement_line,
    printable=False,
)
LISTINGS = {listing.kind: listing for listing in (PAYMENTS, DISBURSEMENTS)}


def payments(ctx: DialogContext) -> None:
    show_listing(ctx, PAYMENTS, 0)


def disbursements(ctx: DialogContext) -> None:
    show_listing(ctx, DISBURSEMENTS, 0)


def show_listing(ctx: DialogContext, listing: Listing, offset: int, case_index: int = 0) -> None:
    """One page of a list. A parent with several cases sees them one case at a time, each
    under its own heading with its role (what was paid to them apart from what they paid)."""
    t = ctx.t
    _ = t.gettext
    cases = _cases(ctx, listing.role, refusal=listing.refusal)
    if not cases:
        return
    several = len(cases) > 1
    case_index = min(max(case_index, 0), len(cases) - 1)
    shown = [cases[case_index]] if several else cases
    page = listing.page(ctx.services, [c.case_number for c in shown], offset, ctx.policy.channel.page_size)
    _audit(ctx, listing.audit_kind)
    if page.total == 0 and not several:
        ctx.result.say(_(listing.empty))
        return
    lines = [_case_heading(t, shown[0]) if several else ""]
    if page.total == 0:
        lines.append(_(listing.empty_for_case))
    else:
        last = offset + len(page.items)
        lines.append(listing.header(t, page.total).format(first=offset + 1, last=last, total=page.total))
        lines += [listing.describe(t, item) for item in page.items]
    next_offset = offset + len(page.items)
    choices = []
    if next_offset < page.total:
        lines.append(_("Send MORE for older ones."))
        ctx.conversation.data["listing"] = {"kind": listing.kind, "offset": next_offset, "case": case_index}
        choices.append(choice(ctx, Intent.MORE))
    elif several and case_index + 1 < len(cases):
        lines.append(_("Send MORE for case {case}.").format(case=mask(cases[case_index + 1].case_number)))
        ctx.conversation.data["listing"] = {"kind": listing.kind, "offset": 0, "case": case_index + 1}
        choices.append(choice(ctx, Intent.MORE))
    else:
        ctx.conversation.data.pop("listing", None)
    if listing.printable:
        lines.append(_("Send PDF to get a copy you can print."))
        choices.append(choice(ctx, Intent.PDF))
    ctx.result.say("\n".join(line for line in lines if line), choices)


def _case_heading(t: Words, case: CaseView) -> str:
    if case.role is Role.RECEIVING:
        return t.gettext("Case {case}, you receive support:").format(case=mask(case.case_number))
    return t.gettext("Case {case}, you pay support:").format(case=mask(case.case_number))


def more(ctx: DialogContext) -> None:
    remembered = ctx.conversation.data.get("listing")
    listing = LISTINGS.get(str(remembered.get("kind"))) if isinstance(remembered, dict) else None
    if listing is None or not isinstance(remembered, dict):
        ctx.result.say(ctx.t.gettext("There is nothing more to show. Send MENU for options."))
        return
    show_listing(ctx, listing, int(remembered.get("offset", 0)), int(remembered.get("case", 0)))


def payment_history_pdf(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    for case in _cases(ctx):
        ctx.result.say(
            _("Payment history for case {case}, ready to view and print.").format(case=mask(case.case_number)),
            document=_document(ctx, DocumentKind.PAYMENT_HISTORY, case.case_number),
        )


def _latest_per_case(
    ctx: DialogContext,
    cases: list[CaseView],
    audit_kind: str,
    find: Callable[[CaseView], R | None],
    missing: str,
    describe: Callable[[CaseView, R], tuple[str, DocumentRef]],
) -> None:
    """A record per case (a statement, a notice, a coupon), with its printable document."""
    if not cases:
        return
    _audit(ctx, audit_kind)
    for case in cases:
        found = find(case)
        if found is None:
            ctx.result.say(ctx.t.gettext(missing).format(case=mask(case.case_number)))
            continue
        text, document = describe(case, found)
        ctx.result.say(text, document=document)


def coupon(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext

    def describe(case: CaseView, found: CouponView) -> tuple[str, DocumentRef]:
        text = _(
            "Payment coupon for case {case}: coupon {coupon}, {amount} due {date}."
            " Mail it with your payment to: {address}"
        ).format(
            case=mask(case.case_number), coupon=mask_within(found.id, case.case_number), amount=t.money(found.amount),
            date=t.date(found.due_date), address=ctx.policy.remit_to_address,
        )
        return text, _document(ctx, DocumentKind.COUPON, found.id)

    _latest_per_case(
        ctx, _cases(ctx, Role.PAYING, refusal=COUPONS_ARE_FOR_PAYING_PARENTS), "coupon",
        lambda case: ctx.services.next_coupon(case.case_number, ctx.now.date()),
        N_("There is no payment coupon on file for case {case}."), describe,
    )


def statement(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext

    def describe(case: CaseView, found: StatementView) -> tuple[str, DocumentRef]:
        text = _(
            "Account statement for case {case}:\n"
            "Balance on {start}: {opening}\n"
            "Support due in this period: {due}\n"
            "Payments received: {received}\n"
            "Balance on {end}: {closing}"
        ).format(
            case=mask(case.case_number), start=t.date(found.period_start), end=t.date(found.period_end),
            opening=t.money(found.opening_balance), due=t.money(found.support_due),
            received=t.money(found.payments_received), closing=t.money(found.closing_balance),
        )
        return text, _document(ctx, DocumentKind.STATEMENT, found.id)

    _latest_per_case(
        ctx, _cases(ctx), "statement", lambda case: ctx.services.latest_statement(case.case_number),
        N_("There is no account statement on file for case {case} yet."), describe,
    )


def notice(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext

    def describe(case: CaseView, found: NoticeView) -> tuple[str, DocumentRef]:
        text = _(
            "Monthly notice for case {case}, {month}:\n"
            "Collected: {collected}\n"
            "Sent to you: {disbursed}\n"
            "Past-due support owed to you: {owed}"
        ).format(
            case=mask(case.case_number), month=t.month(found.month),
            collected=t.money(found.collected), disbursed=t.money(found.disbursed),
            owed=t.money(found.balance_owed),
        )
        return text, _document(ctx, DocumentKind.NOTICE, found.id)

    _latest_per_case(
        ctx, _cases(ctx, Role.RECEIVING, refusal=NOTICES_ARE_FOR_RECEIVING_PARENTS), "notice",
        lambda case: ctx.services.latest_notice(case.case_number),
        N_("There is no monthly notice on file for case {case} yet."), describe,
    )
