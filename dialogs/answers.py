"""Answers about the account: each covers every case of the parent in the role that applies.

Case numbers are masked to their last four digits; nothing names or locates the other parent;
every view writes an audit record (the kind of record, never the data).
"""

from __future__ import annotations

from collections.abc import Callable

from dialogs.context import DialogContext
from dialogs.menu import choice
from dialogs.ports import CaseView, DisbursementView, Page, PaymentView, Role
from dialogs.replies import DocumentKind, DocumentRef
from dialogs.text import N_
from dialogs.words import Intent

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


def mask(case_number: str) -> str:
    return "*" + case_number[-4:]


def _cases(ctx: DialogContext) -> list[CaseView]:
    return ctx.services.cases(ctx.conversation.person_id or "")


def _audit(ctx: DialogContext, kind: str) -> None:
    ctx.services.record_view(ctx.conversation.person_id or "", ctx.chat, kind)


def _document(ctx: DialogContext, kind: DocumentKind, record_id: str) -> DocumentRef:
    return DocumentRef(kind, ctx.conversation.person_id or "", record_id, ctx.locale)


def balance(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext
    cases = _cases(ctx)
    if not cases:
        ctx.result.say(_("We have no open case for you."))
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


def payments(ctx: DialogContext, offset: int = 0) -> None:
    t = ctx.t
    _ = t.gettext
    cases = _cases(ctx)
    if not cases:
        ctx.result.say(_("We have no open case for you."))
        return
    numbers = [case.case_number for case in cases]
    page = ctx.services.payments(numbers, offset, ctx.policy.page_size)
    _audit(ctx, "payment_history")
    if page.total == 0:
        ctx.result.say(_("There are no payments on file for your cases yet."))
        return
    header = t.ngettext(
        "Payment {first}-{last} of {total}, newest first:",
        "Payments {first}-{last} of {total}, newest first:",
        page.total,
    )

    def describe(item: PaymentView) -> str:
        return _("{date}: {amount}, {source}").format(
            date=t.date(item.date), amount=t.money(item.amount), source=_(SOURCES.get(item.source, item.source))
        )

    _show_page(ctx, "payments", header, page, offset, len(cases) > 1, describe)


def disbursements(ctx: DialogContext, offset: int = 0) -> None:
    t = ctx.t
    _ = t.gettext
    receiving = [case for case in _cases(ctx) if case.role is Role.RECEIVING]
    if not receiving:
        ctx.result.say(
            _(
                "Disbursements are the payments sent to a parent who receives support. On your"
                " cases you pay support: send PAYMENTS for your payment history."
            )
        )
        return
    page = ctx.services.disbursements([c.case_number for c in receiving], offset, ctx.policy.page_size)
    _audit(ctx, "disbursements")
    if page.total == 0:
        ctx.result.say(_("No payments have been sent to you yet."))
        return
    header = t.ngettext(
        "Payment sent to you {first}-{last} of {total}, newest first:",
        "Payments sent to you {first}-{last} of {total}, newest first:",
        page.total,
    )

    def describe(item: DisbursementView) -> str:
        return _("{date}: {amount} by {method}").format(
            date=t.date(item.date), amount=t.money(item.amount), method=_(METHODS.get(item.method, item.method))
        )

    _show_page(ctx, "disbursements", header, page, offset, len(receiving) > 1, describe)


def _show_page(
    ctx: DialogContext,
    kind: str,
    header: str,
    page: Page,
    offset: int,
    several_cases: bool,
    describe: Callable,
) -> None:
    """One page of a list, each line tagged with its case when the parent has several."""
    lines = [header.format(first=offset + 1, last=offset + len(page.items), total=page.total)]
    for item in page.items:
        lines.append(describe(item) + (f" ({mask(item.case_number)})" if several_cases else ""))
    _listing_footer(ctx, kind, offset, len(page.items), page.total, lines)


def _listing_footer(
    ctx: DialogContext, kind: str, offset: int, shown: int, total: int, lines: list[str]
) -> None:
    _ = ctx.t.gettext
    next_offset = offset + shown
    choices = []
    if next_offset < total:
        lines.append(_("Send MORE for older ones."))
        ctx.conversation.data["listing"] = {"kind": kind, "offset": next_offset}
        choices.append(choice(ctx, Intent.MORE))
    else:
        ctx.conversation.data.pop("listing", None)
    if kind == "payments":
        lines.append(_("Send PDF for a printable copy."))
        choices.append(choice(ctx, Intent.PDF))
    ctx.result.say("\n".join(lines), choices)


def more(ctx: DialogContext) -> None:
    listing = ctx.conversation.data.get("listing")
    if not isinstance(listing, dict):
        _ = ctx.t.gettext
        ctx.result.say(_("There is nothing more to show. Send MENU for options."))
        return
    offset = int(listing.get("offset", 0))
    if listing.get("kind") == "disbursements":
        disbursements(ctx, offset)
    else:
        payments(ctx, offset)


def payment_history_pdf(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    cases = _cases(ctx)
    if not cases:
        ctx.result.say(_("We have no open case for you."))
        return
    for case in cases:
        ctx.result.say(
            _("Payment history for case {case}, ready to view and print.").format(case=mask(case.case_number)),
            document=_document(ctx, DocumentKind.PAYMENT_HISTORY, case.case_number),
        )


def coupon(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext
    paying = [case for case in _cases(ctx) if case.role is Role.PAYING]
    if not paying:
        ctx.result.say(
            _(
                "Payment coupons are for the parent who pays support. On your cases you"
                " receive support."
            )
        )
        return
    _audit(ctx, "coupon")
    for case in paying:
        found = ctx.services.next_coupon(case.case_number, ctx.now.date())
        if found is None:
            ctx.result.say(_("There is no payment coupon on file for case {case}.").format(case=mask(case.case_number)))
            continue
        ctx.result.say(
            _(
                "Payment coupon for case {case}: coupon no. {coupon}, {amount} due {date}."
                " Mail it with your payment to: {address}"
            ).format(
                case=mask(case.case_number), coupon=found.id, amount=t.money(found.amount),
                date=t.date(found.due_date), address=ctx.policy.remit_to_address,
            ),
            document=_document(ctx, DocumentKind.COUPON, found.id),
        )


def statement(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext
    cases = _cases(ctx)
    if not cases:
        ctx.result.say(_("We have no open case for you."))
        return
    _audit(ctx, "statement")
    for case in cases:
        found = ctx.services.latest_statement(case.case_number)
        if found is None:
            ctx.result.say(_("There is no account statement on file for case {case} yet.").format(case=mask(case.case_number)))
            continue
        ctx.result.say(
            _(
                "Account statement, case {case}, {start} to {end}: opening balance {opening};"
                " support due {due}; payments received {received}; closing balance {closing}."
            ).format(
                case=mask(case.case_number), start=t.date(found.period_start), end=t.date(found.period_end),
                opening=t.money(found.opening_balance), due=t.money(found.support_due),
                received=t.money(found.payments_received), closing=t.money(found.closing_balance),
            ),
            document=_document(ctx, DocumentKind.STATEMENT, found.id),
        )


def notice(ctx: DialogContext) -> None:
    t = ctx.t
    _ = t.gettext
    receiving = [case for case in _cases(ctx) if case.role is Role.RECEIVING]
    if not receiving:
        ctx.result.say(
            _(
                "The monthly notice is for the parent who receives support. On your cases you"
                " pay support: send STATEMENT for your account statement."
            )
        )
        return
    _audit(ctx, "notice")
    for case in receiving:
        found = ctx.services.latest_notice(case.case_number)
        if found is None:
            ctx.result.say(_("There is no monthly notice on file for case {case} yet.").format(case=mask(case.case_number)))
            continue
        ctx.result.say(
            _(
                "Monthly notice, case {case}, {month}: collected {collected}; sent to you"
                " {disbursed}; past-due balance {owed}."
            ).format(
                case=mask(case.case_number), month=t.month(found.month),
                collected=t.money(found.collected), disbursed=t.money(found.disbursed),
                owed=t.money(found.balance_owed),
            ),
            document=_document(ctx, DocumentKind.NOTICE, found.id),
        )
