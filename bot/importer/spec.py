"""The schema of csbot-import/1: its lists in file order, each list's fields, checks, live
table and key, and the references between lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table

from bot.importer.fields import (
    case_number,
    date,
    email,
    enum,
    language,
    money,
    month,
    office_code,
    person_id,
    phone,
    pin_digits,
    record_id,
    ssn_digits,
    text,
    zip_code,
)
from bot.store import models

FORMAT = "csbot-import/1"

# File order of the lists, and the order parents are written before children.
LIST_ORDER = (
    "offices",
    "people",
    "cases",
    "payments",
    "disbursements",
    "coupons",
    "statements",
    "notices",
)
TOP_LEVEL_SCALARS = ("format", "as_of")


@dataclass(frozen=True)
class F:
    """A field: JSON name, live column (None for nested/derived), check, required."""

    name: str
    column: str | None
    check: Callable[[Any], Any] | None = None
    required: bool = True
    default: Any = None
    nested: tuple[F, ...] = ()


@dataclass(frozen=True)
class Ref:
    column: str
    field: str
    target: str  # list name
    noun: str


@dataclass(frozen=True)
class ListSpec:
    name: str
    table: Table
    key_field: str
    key_column: str
    fields: tuple[F, ...]
    refs: tuple[Ref, ...] = ()
    # column -> json field, for messages about derived columns
    extra_columns: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        out: list[str] = []
        for f in self.fields:
            if f.nested:
                out.extend(n.column for n in f.nested if n.column)
            elif f.column:
                out.append(f.column)
        return out + list(self.extra_columns)


def table_of(model: type[models.Base]) -> Table:
    """A model's table (typed as a FromClause by the declarative base; ours are all Tables)."""
    return cast(Table, model.__table__)


def _case_child(name: str, model: type[models.Base], fields: tuple[F, ...]) -> ListSpec:
    return ListSpec(
        name=name,
        table=table_of(model),
        key_field="id",
        key_column="id",
        fields=(F("id", "id", record_id), F("case_number", "case_number", case_number), *fields),
        refs=(Ref("case_number", "case_number", "cases", "case"),),
    )


SPECS: dict[str, ListSpec] = {
    "offices": ListSpec(
        "offices",
        table_of(models.Office),
        "code",
        "code",
        (
            F("code", "code", office_code),
            F("name", "name", text(200)),
            F("email", "email", email),
            F("phone", "phone", text(40)),
            F("address", "address", text(300)),
        ),
    ),
    "people": ListSpec(
        "people",
        table_of(models.Person),
        "id",
        "id",
        (
            F("id", "id", person_id),
            F("first_name", "first_name", text(100)),
            F("last_name", "last_name", text(100)),
            F("ssn", None, ssn_digits),
            F("pin", None, pin_digits),
            F("date_of_birth", "date_of_birth", date),
            F("phone", "phone", phone, required=False),
            F("language", "language", language, required=False, default="en"),
            F(
                "mailing_address",
                None,
                nested=(
                    F("line1", "address_line1", text(200)),
                    F("line2", "address_line2", text(200), required=False),
                    F("city", "address_city", text(100)),
                    F("state", "address_state", text(40)),
                    F("zip", "address_zip", zip_code),
                ),
            ),
        ),
        extra_columns=("ssn_hash", "pin_hash"),
    ),
    "cases": ListSpec(
        "cases",
        table_of(models.Case),
        "case_number",
        "case_number",
        (
            F("case_number", "case_number", case_number),
            F("office", "office_code", office_code),
            F("custodial_parent", "custodial_parent_id", person_id),
            F("noncustodial_parent", "noncustodial_parent_id", person_id),
            F(
                "current_support",
                None,
                nested=(
                    F("amount", "support_amount", money),
                    F(
                        "frequency",
                        "support_frequency",
                        enum("weekly", "biweekly", "semimonthly", "monthly"),
                    ),
                ),
            ),
            F("arrears_balance", "arrears_balance", money),
            F("next_due_date", "next_due_date", date, required=False),
        ),
        refs=(
            Ref("office_code", "office", "offices", "office"),
            Ref("custodial_parent_id", "custodial_parent", "people", "person"),
            Ref("noncustodial_parent_id", "noncustodial_parent", "people", "person"),
        ),
    ),
    "payments": _case_child(
        "payments",
        models.Payment,
        (
            F("date", "date", date),
            F("amount", "amount", money),
            F(
                "source",
                "source",
                enum(
                    "income_withholding",
                    "direct_payment",
                    "tax_refund_offset",
                    "unemployment_benefits",
                    "other",
                ),
            ),
        ),
    ),
    "disbursements": _case_child(
        "disbursements",
        models.Disbursement,
        (
            F("date", "date", date),
            F("amount", "amount", money),
            F("method", "method", enum("direct_deposit", "debit_card", "check")),
        ),
    ),
    "coupons": _case_child(
        "coupons",
        models.Coupon,
        (F("due_date", "due_date", date), F("amount", "amount", money)),
    ),
    "statements": _case_child(
        "statements",
        models.Statement,
        (
            F("period_start", "period_start", date),
            F("period_end", "period_end", date),
            F("opening_balance", "opening_balance", money),
            F("support_due", "support_due", money),
            F("payments_received", "payments_received", money),
            F("closing_balance", "closing_balance", money),
        ),
    ),
    "notices": _case_child(
        "notices",
        models.Notice,
        (
            F("month", "month", month),
            F("collected", "collected", money),
            F("disbursed", "disbursed", money),
            F("balance_owed", "balance_owed", money),
        ),
    ),
}

# Who refers to whom, for --replace removal checks: target list -> [(referrer list, Ref)].
REFERRERS: dict[str, list[tuple[str, Ref]]] = {}
for _spec in SPECS.values():
    for _ref in _spec.refs:
        REFERRERS.setdefault(_ref.target, []).append((_spec.name, _ref))

