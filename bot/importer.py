"""`csbot import FILE [--replace]`: load an account data extract (csbot-import/1).

How it stays strict, atomic and flat in memory on a million-person file:

1. One streaming pass (ijson, C backend when present) reads each record, checks its own
   fields and writes it, with its index in the file, to a TEMPORARY staging table per list
   in batches. Nothing is held per record after its batch is written.
2. SQL checks over staging and live tables find duplicated keys and SSNs, dangling
   references (a reference may point anywhere in the file or at what is stored) and, with
   --replace, removals a kept record still refers to. Each error names `list[index].field`.
3. If there is no error, staging is upserted into the live tables (INSERT ... SELECT ...
   ON CONFLICT DO UPDATE, only rows that differ) and, with --replace, the rest removed.

All of it runs in one transaction: any error and nothing is written. SSNs and PINs exist
only as keyed hashes from the moment a record is read; no message ever quotes a field's value
(only reference keys such as office codes, case numbers and person ids, which are not secret).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import phonenumbers
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.hashing import KeyedHasher
from bot.store import models

FORMAT = "csbot-import/1"
ERROR_CAP = 100
BATCH_SIZE = 2000
PROGRESS_EVERY = 100_000
MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)

try:  # the C backend is ~10x faster; the pure-Python one is always there
    _IJSON = ijson.get_backend("yajl2_c")
except Exception:  # pragma: no cover - depends on the wheel installed
    _IJSON = ijson

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


class ImportFailed(Exception):
    """The extract was rejected; `errors` are the lines to show (already capped)."""

    def __init__(self, errors: list[str], total: int | None = None) -> None:
        self.errors = errors
        self.total = total if total is not None else len(errors)
        super().__init__(errors[0] if errors else "import failed")

    def lines(self) -> list[str]:
        shown = list(self.errors[:ERROR_CAP])
        if self.total > len(shown):
            shown.append(f"... and {self.total - len(shown)} more")
        return shown


@dataclass
class ListCounts:
    in_file: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass
class ImportReport:
    as_of: dt.date | None
    replace: bool
    counts: dict[str, ListCounts] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(c.in_file for c in self.counts.values())


# --- field checks ---------------------------------------------------------------------------


class Bad(Exception):
    """A field value is wrong; the message never quotes the value."""


_MONEY = re.compile(r"^-?\d+\.\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_OFFICE_CODE = re.compile(r"^[A-Z0-9-]{1,16}$")
_CASE_NUMBER = re.compile(r"^[A-Z0-9]{1,20}$")
_SSN = re.compile(r"^\d{9}$")
_SSN_SEPARATORS = re.compile(r"[ -]")
_PIN = re.compile(r"^\d{5}$")
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
# Deliberately plain: one @, no spaces, a dot in the domain. Deliverability is the office's
# mail server's business; this catches a phone number or a name typed into the email column.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")


def text(max_len: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if type(value) is not str:
            raise Bad("must be a string")
        if not value.strip():
            raise Bad("must not be empty")
        if len(value) > max_len:
            raise Bad(f"must be at most {max_len} characters")
        return value

    return check


def pattern(regex: re.Pattern[str], message: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if type(value) is not str or not regex.match(value):
            raise Bad(message)
        return value

    return check


def money(value: Any) -> Decimal:
    if type(value) is not str:
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            raise Bad('must be a string with two decimals, e.g. "12.50", not a JSON number')
        raise Bad('must be an amount as a string with two decimals, e.g. "12.50"')
    if not _MONEY.match(value):
        raise Bad('must be an amount with exactly two decimals, e.g. "12.50"')
    if value.startswith("-"):
        raise Bad("must not be negative")
    amount = Decimal(value)
    if amount > MAX_MONEY:
        raise Bad(f"must be at most {MAX_MONEY}")
    return amount


def date(value: Any) -> dt.date:
    if type(value) is not str or not _DATE.match(value):
        raise Bad("must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Bad("is not a real calendar date") from None


def month(value: Any) -> str:
    if type(value) is not str or not _MONTH.match(value):
        raise Bad("must be a month YYYY-MM")
    return value


def enum(*allowed: str) -> Callable[[Any], str]:
    message = "must be one of " + ", ".join(allowed)

    def check(value: Any) -> str:
        if value not in allowed or type(value) is not str:
            raise Bad(message)
        return value

    return check


def email(value: Any) -> str:
    if type(value) is not str or len(value) > 254 or not _EMAIL.match(value):
        raise Bad("must be an email address")
    return value


# A North American number written the usual ways: (212) 555-0111, 212.555.0111, +1 212...
_NANP = re.compile(r"^(?:\+?1[\s.-]?)?\(?([2-9]\d{2})\)?[\s.-]?([2-9]\d{2})[\s.-]?(\d{4})$")


def phone(value: Any) -> str:
    if type(value) is not str:
        raise Bad("must be a phone number as a string")
    match = _NANP.match(value.strip())
    if match:
        # phonenumbers costs ~80 us a number; US validity depends only on the first six
        # digits (area code and exchange), so that answer is cached.
        national = "".join(match.groups())
        if not _nanp_prefix_valid(national[:6], national):
            raise Bad("is not a valid phone number")
        return "+1" + national
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        raise Bad("must be a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise Bad("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_prefix_cache: dict[str, bool] = {}


def _nanp_prefix_valid(prefix: str, national: str) -> bool:
    known = _prefix_cache.get(prefix)
    if known is None:
        known = phonenumbers.is_valid_number(phonenumbers.parse("+1" + national, None))
        if len(_prefix_cache) < 200_000:  # bounded: at most a few MB
            _prefix_cache[prefix] = known
    return known


def ssn_digits(value: Any) -> str:
    # Never quote the value, not even in this message: it may be a real SSN mistyped.
    if type(value) is not str:
        raise Bad("must be 9 digits as a string (dashes and spaces allowed)")
    digits = _SSN_SEPARATORS.sub("", value)
    if not _SSN.match(digits):
        raise Bad("must be 9 digits (dashes and spaces allowed)")
    return digits


def pin_digits(value: Any) -> str:
    if type(value) is not str or not _PIN.match(value):
        raise Bad("must be exactly 5 digits")
    return value


office_code = pattern(_OFFICE_CODE, "must be 1-16 characters of A-Z, 0-9 and -")
case_number = pattern(_CASE_NUMBER, "must be 1-20 characters of A-Z and 0-9")
person_id = text(32)
record_id = text(64)
language = enum("en", "fr")
zip_code = pattern(_ZIP, "must be a ZIP code: 5 digits or ZIP+4 (12345-6789)")


# --- what each list holds ------------------------------------------------------------------


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


def _t(model: type[models.Base]) -> Table:
    return model.__table__  # type: ignore[return-value]


def _case_child(name: str, model: type[models.Base], fields: tuple[F, ...]) -> ListSpec:
    return ListSpec(
        name=name,
        table=_t(model),
        key_field="id",
        key_column="id",
        fields=(F("id", "id", record_id), F("case_number", "case_number", case_number), *fields),
        refs=(Ref("case_number", "case_number", "cases", "case"),),
    )


SPECS: dict[str, ListSpec] = {
    "offices": ListSpec(
        "offices",
        _t(models.Office),
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
        _t(models.Person),
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
        _t(models.Case),
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


# --- error collection -----------------------------------------------------------------------


class Errors:
    """Errors sorted by list and index when shown; only the first few hundred are kept."""

    KEEP = ERROR_CAP * 5

    def __init__(self) -> None:
        self.total = 0
        self._items: list[tuple[int, int, int, str]] = []
        self._seq = 0

    def add(self, message: str, list_name: str | None = None, index: int = -1) -> None:
        self.total += 1
        if len(self._items) < self.KEEP:
            order = LIST_ORDER.index(list_name) if list_name in LIST_ORDER else -1
            self._seq += 1
            self._items.append((order, index, self._seq, message))

    def count(self, extra: int) -> None:
        """Errors found but not fetched (a query's LIMIT)."""
        self.total += extra

    def __bool__(self) -> bool:
        return self.total > 0

    def failure(self) -> ImportFailed:
        lines = [m for *_, m in sorted(self._items)]
        return ImportFailed(lines, self.total)


# --- reading the file -----------------------------------------------------------------------


class _DuplicateKeys(list):  # type: ignore[type-arg]
    """Keys repeated within one JSON object of a record (JSON allows it; we do not)."""


def _build(event: str, value: Any, events: Iterator[tuple[str, Any]], dups: list[str]) -> Any:
    """Build one JSON value from basic_parse events (maps, arrays, scalars)."""
    if event == "start_map":
        root: Any = {}
    elif event == "start_array":
        root = []
    else:
        return value
    stack: list[tuple[Any, Any]] = []
    current: Any = root
    key: Any = None
    for event, value in events:
        if event == "map_key":
            key = value
            if key in current:
                dups.append(key)
        elif event == "start_map" or event == "start_array":
            child: Any = {} if event == "start_map" else []
            if type(current) is dict:
                current[key] = child
            else:
                current.append(child)
            stack.append((current, key))
            current = child
        elif event == "end_map" or event == "end_array":
            if not stack:
                return root
            current, key = stack.pop()
        elif type(current) is dict:
            current[key] = value
        else:
            current.append(value)
    raise ijson.IncompleteJSONError("Incomplete JSON content")


@dataclass
class _Item:
    kind: str  # "scalar" (top-level key/value), "record", "not_list", "not_object", "bad_root"
    key: str = ""
    index: int = -1
    value: Any = None
    dups: list[str] = field(default_factory=list)


def _walk(source: BinaryIO) -> Iterator[_Item]:
    """The top-level object's scalars and each list's records, in file order, one at a time."""
    events = iter(_IJSON.basic_parse(source, use_float=False))
    event, value = next(events, ("end", None))
    if event != "start_map":
        if event != "end":
            _build(event, value, events, [])
        yield _Item("bad_root")
        return
    for event, value in events:
        if event == "end_map":
            return
        key = value
        event, value = next(events)
        if event != "start_array":
            dups: list[str] = []
            yield _Item("scalar", key, value=_build(event, value, events, dups))
            continue
        yield _Item("list_start", key)
        index = 0
        for event, value in events:
            if event == "end_array":
                break
            dups = []
            item = _build(event, value, events, dups)
            if type(item) is dict:
                yield _Item("record", key, index, item, dups)
            else:
                yield _Item("not_object", key, index)
            index += 1
    raise ijson.IncompleteJSONError("Incomplete JSON content")


def _json_error_location(path: Path) -> tuple[int, int] | str | None:
    """Line and column of a JSON syntax error, or "incomplete" when the file stops short,
    found by re-reading with the Python backend (the C backend's message quotes the text
    around the error, which may hold an SSN, and gives no position)."""
    python_backend = ijson.get_backend("python")
    try:
        with path.open("rb") as handle:
            for _ in python_backend.basic_parse(handle, use_float=False):
                pass
    except ijson.IncompleteJSONError:
        return "incomplete"
    except ijson.JSONError as exc:
        match = re.search(r" at (\d+)$", str(exc))
        if not match:
            return None
        offset = int(match.group(1))
    except Exception:
        return None
    else:
        return None
    line, column, seen = 1, 1, 0
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        while seen < offset:
            chunk = handle.read(min(1 << 16, offset - seen))
            if not chunk:
                break
            newlines = chunk.count("\n")
            if newlines:
                line += newlines
                column = len(chunk) - chunk.rfind("\n")
            else:
                column += len(chunk)
            seen += len(chunk)
    return line, column


# --- staging --------------------------------------------------------------------------------


def _stage_table(spec: ListSpec, metadata: MetaData) -> Table:
    live = spec.table
    columns = [Column("idx", Integer, nullable=False), Column("valid", Integer, nullable=False)]
    for name in spec.columns:
        columns.append(Column(name, live.c[name].type, nullable=True))
    return Table(f"csbot_import_{spec.name}", metadata, *columns, prefixes=["TEMPORARY"])


class _Stager:
    """Batches staged rows and writes them with the driver's executemany."""

    def __init__(self, conn: Connection, spec: ListSpec, table: Table) -> None:
        self.conn = conn
        self.table = table
        self.columns = ["idx", "valid", *spec.columns]
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        names = ", ".join(self.columns)
        self.sql = (
            f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([marker] * len(self.columns))})"
        )
        self.sqlite = conn.dialect.name == "sqlite"
        # Which positions hold dates and money (SQLite stores them as ISO text and floats).
        self.date_positions = [
            i for i, c in enumerate(self.columns) if c in table.c and _is_date(table.c[c])
        ]
        self.money_positions = [
            i for i, c in enumerate(self.columns) if c in table.c and _is_money(table.c[c])
        ]
        self.rows: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, row: list[Any]) -> None:
        if self.sqlite:
            # What SQLAlchemy's SQLite types store: ISO text dates, float numerics.
            for i in self.date_positions:
                value = row[i]
                if value is not None:
                    row[i] = value.isoformat()
            for i in self.money_positions:
                value = row[i]
                if value is not None:
                    row[i] = float(value)
        self.rows.append(tuple(row))
        self.count += 1
        if len(self.rows) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.conn.exec_driver_sql(self.sql, self.rows)
            self.rows = []


def _is_date(column: Column[Any]) -> bool:
    from sqlalchemy import Date

    return isinstance(column.type, Date)


def _is_money(column: Column[Any]) -> bool:
    from sqlalchemy import Numeric

    return isinstance(column.type, Numeric)


class _RecordChecker:
    """Turns one JSON record into a staging row, adding `list[i].field` errors."""

    def __init__(self, spec: ListSpec, hasher: KeyedHasher, errors: Errors) -> None:
        self.spec = spec
        self.hasher = hasher
        self.errors = errors
        self.columns = spec.columns
        self.known = {f.name for f in spec.fields}
        self.nested_known = {f.name: {n.name for n in f.nested} for f in spec.fields if f.nested}

    def row(self, record: dict[str, Any], index: int, dups: list[str]) -> list[Any]:
        spec, errors = self.spec, self.errors
        name = spec.name
        ok = True
        values: dict[str, Any] = {}
        for key in dups:
            errors.add(f"{name}[{index}].{key}: appears more than once", name, index)
            ok = False
        for key in record:
            if key not in self.known:
                errors.add(f"{name}[{index}].{_show_key(key)}: unknown field", name, index)
                ok = False
        for f in spec.fields:
            raw = record.get(f.name)
            if f.nested:
                if raw is None:
                    errors.add(f"{name}[{index}].{f.name}: is required", name, index)
                    ok = False
                    continue
                if type(raw) is not dict:
                    errors.add(f"{name}[{index}].{f.name}: must be an object", name, index)
                    ok = False
                    continue
                for key in raw:
                    if key not in self.nested_known[f.name]:
                        errors.add(
                            f"{name}[{index}].{f.name}.{_show_key(key)}: unknown field", name, index
                        )
                        ok = False
                for n in f.nested:
                    ok = self._field(n, raw.get(n.name), f"{f.name}.{n.name}", index, values) and ok
            else:
                ok = self._field(f, raw, f.name, index, values) and ok
        if name == "people":
            ok = self._people(values, index) and ok
        elif name == "statements":
            ok = self._statement(values, index) and ok
        elif name == "cases":
            ok = self._case(values, index) and ok
        row: list[Any] = [index, 1 if ok else 0]
        get = values.get
        row.extend([get(c) for c in self.columns])
        return row

    def _field(self, f: F, raw: Any, path: str, index: int, values: dict[str, Any]) -> bool:
        if raw is None:
            if f.required:
                self.errors.add(f"{self.spec.name}[{index}].{path}: is required", self.spec.name, index)
                return False
            values[f.column or f.name] = f.default
            return True
        try:
            values[f.column or f.name] = f.check(raw)  # type: ignore[misc]
        except Bad as bad:
            self.errors.add(f"{self.spec.name}[{index}].{path}: {bad}", self.spec.name, index)
            return False
        return True

    def _people(self, values: dict[str, Any], index: int) -> bool:
        # Hash at once and drop the digits: only the keyed hashes go any further.
        ssn = values.pop("ssn", None)
        pin = values.pop("pin", None)
        if ssn is not None:
            values["ssn_hash"] = self.hasher.ssn(ssn)
        if pin is not None and values.get("id") is not None:
            values["pin_hash"] = self.hasher.pin(values["id"], pin)
        return True

    def _statement(self, values: dict[str, Any], index: int) -> bool:
        ok = True
        start, end = values.get("period_start"), values.get("period_end")
        if start is not None and end is not None and end < start:
            self.errors.add(
                f"statements[{index}].period_end: must not be before period_start",
                "statements",
                index,
            )
            ok = False
        parts = [values.get(c) for c in ("opening_balance", "support_due", "payments_received")]
        closing = values.get("closing_balance")
        if closing is not None and all(p is not None for p in parts):
            expected = parts[0] + parts[1] - parts[2]
            if closing != expected:
                self.errors.add(
                    f"statements[{index}].closing_balance: must equal opening_balance +"
                    f" support_due - payments_received ({expected})",
                    "statements",
                    index,
                )
                ok = False
        return ok

    def _case(self, values: dict[str, Any], index: int) -> bool:
        custodial = values.get("custodial_parent_id")
        if custodial is not None and custodial == values.get("noncustodial_parent_id"):
            self.errors.add(
                f"cases[{index}].noncustodial_parent: must differ from custodial_parent",
                "cases",
                index,
            )
            return False
        return True


def _show_key(key: Any) -> str:
    text_key = str(key)
    return text_key if len(text_key) <= 40 else text_key[:40] + "..."


# --- the import -----------------------------------------------------------------------------


def _open_source(source: str | Path | BinaryIO) -> tuple[BinaryIO, Path | None, bool]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            handle: BinaryIO = path.open("rb")
        except FileNotFoundError:
            raise ImportFailed([f"{path}: no such file"]) from None
        except IsADirectoryError:
            raise ImportFailed([f"{path}: is a folder, not a file"]) from None
        except OSError as exc:
            raise ImportFailed([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
        return handle, path, True
    return source, None, False


def _skip_bom(handle: BinaryIO) -> BinaryIO:
    head = handle.read(3)
    if head == b"\xef\xbb\xbf":
        return handle
    if hasattr(handle, "seekable") and handle.seekable():
        handle.seek(0)
        return handle
    return io.BufferedReader(_Prefixed(head, handle))  # type: ignore[arg-type]


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def import_extract(
    runtime: Any,
    source: str | Path | BinaryIO,
    *,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Validate and load one extract in one transaction; raise ImportFailed on any error."""
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    handle, path, owned = _open_source(source)
    try:
        with runtime.db.begin() as conn:
            report = _run(conn, runtime.hasher, handle, path, replace, progress)
            if report is None:  # pragma: no cover - _run raises instead
                raise ImportFailed(["import failed"])
            conn.execute(
                insert(_t(models.ImportRun)).values(
                    started_at=started,
                    finished_at=dt.datetime.now(dt.UTC),
                    as_of=report.as_of,
                    replace=replace,
                    records=report.records,
                )
            )
    finally:
        if owned:
            handle.close()
    report.seconds = time.monotonic() - clock
    return report


def _run(
    conn: Connection,
    hasher: KeyedHasher,
    handle: BinaryIO,
    path: Path | None,
    replace: bool,
    progress: Callable[[str], None] | None,
) -> ImportReport:
    errors = Errors()
    if conn.dialect.name == "sqlite":
        # A bigger page cache for this one connection: staging joins stay in memory longer.
        conn.exec_driver_sql("PRAGMA cache_size=-65536")
    metadata = MetaData()
    stages = {name: _stage_table(spec, metadata) for name, spec in SPECS.items()}
    for table in stages.values():
        table.create(conn)
    stagers = {name: _Stager(conn, SPECS[name], stages[name]) for name in SPECS}
    checkers = {name: _RecordChecker(SPECS[name], hasher, errors) for name in SPECS}
    scalars: dict[str, Any] = {}
    seen_lists: list[str] = []
    read = 0
    try:
        for item in _walk(_skip_bom(handle)):
            if item.kind == "record":
                checker = checkers.get(item.key)
                if checker is None or item.key in seen_lists[:-1]:
                    continue  # an unknown or repeated list: reported once at its start
                stagers[item.key].add(checker.row(item.value, item.index, item.dups))
                read += 1
                if progress and read % PROGRESS_EVERY == 0:
                    progress(f"{read:,} records read")
            elif item.kind == "list_start":
                if item.key not in SPECS:
                    errors.add(f"{_show_key(item.key)}: unknown field")
                elif item.key in seen_lists:
                    errors.add(f"{item.key}: appears more than once")
                seen_lists.append(item.key)
            elif item.kind == "not_object":
                if item.key in SPECS:
                    errors.add(f"{item.key}[{item.index}]: must be an object", item.key, item.index)
            elif item.kind == "scalar":
                if item.key in SPECS:
                    errors.add(f"{item.key}: must be a list")
                    seen_lists.append(item.key)
                elif item.key not in TOP_LEVEL_SCALARS:
                    errors.add(f"{_show_key(item.key)}: unknown field")
                elif item.key in scalars:
                    errors.add(f"{item.key}: appears more than once")
                else:
                    scalars[item.key] = item.value
                    if item.key == "format" and item.value != FORMAT:
                        # Another format's lists would only give a flood of errors.
                        raise ImportFailed([f'format: must be "{FORMAT}"'])
            elif item.kind == "bad_root":
                raise ImportFailed(["the file must hold one JSON object"])
    except ijson.JSONError as exc:
        raise ImportFailed([_json_error_message(exc, path)]) from None
    except UnicodeDecodeError:
        raise ImportFailed(["the file is not UTF-8 text"]) from None
    except OSError as exc:
        where = f"{path}: " if path else ""
        raise ImportFailed([f"{where}cannot be read ({exc.strerror or exc})"]) from None
    for stager in stagers.values():
        stager.flush()
    if progress and read >= PROGRESS_EVERY:
        progress(f"{read:,} records read; checking keys and references")

    if "format" not in scalars:
        errors.add(f'format: is required ("{FORMAT}")')
    as_of: dt.date | None = None
    if "as_of" not in scalars:
        errors.add("as_of: is required")
    else:
        try:
            as_of = date(scalars["as_of"])
        except Bad as bad:
            errors.add(f"as_of: {bad}")

    present = [name for name in LIST_ORDER if name in seen_lists]
    _index_stages(conn, stages, present)
    checks = _Checks(conn, stages, present, replace, errors)
    checks.run()
    if errors:
        raise errors.failure()

    if progress and read >= PROGRESS_EVERY:
        progress("writing")
    report = ImportReport(as_of=as_of, replace=replace)
    for name in present:
        report.counts[name] = ListCounts(in_file=stagers[name].count)
    try:
        _write(conn, stages, present, replace, as_of, report)
    except IntegrityError:
        raise ImportFailed(
            [
                "the store refused the change (two people would share an SSN: if SSNs moved"
                " between stored people, import the change in two steps)"
            ]
        ) from None
    for table in stages.values():
        table.drop(conn)
    return report


def _json_error_message(exc: Exception, path: Path | None) -> str:
    # Never include the parser's own message: yajl quotes the text around the error.
    location = _json_error_location(path) if path is not None else None
    if location == "incomplete" or (location is None and "premature EOF" in str(exc)):
        return "invalid JSON: the file ends before the JSON object does"
    if isinstance(location, tuple):
        return f"invalid JSON at line {location[0]}, column {location[1]}"
    return "invalid JSON"


def _index_stages(conn: Connection, stages: dict[str, Table], present: list[str]) -> None:
    for name in present:
        spec, table = SPECS[name], stages[name]
        conn.exec_driver_sql(
            f"CREATE INDEX {table.name}_key ON {table.name} ({spec.key_column})"
        )
        if name == "people":
            conn.exec_driver_sql(f"CREATE INDEX {table.name}_ssn ON {table.name} (ssn_hash)")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {table.name}")


class _Checks:
    """Cross-record checks in SQL; each finding becomes a `list[index].field` error."""

    def __init__(
        self,
        conn: Connection,
        stages: dict[str, Table],
        present: list[str],
        replace: bool,
        errors: Errors,
    ) -> None:
        self.conn, self.stages, self.present = conn, stages, present
        self.replace, self.errors = replace, errors

    def _fetch(self, query: Any, count_query: Any) -> list[Any]:
        rows = self.conn.execute(query.limit(ERROR_CAP)).all()
        if len(rows) == ERROR_CAP:
            total = self.conn.execute(count_query).scalar_one()
            self.errors.count(total - len(rows))
        return rows

    def run(self) -> None:
        for name in self.present:
            self.duplicates(name)
        if "people" in self.present:
            self.duplicate_ssns()
        for name in self.present:
            for ref in SPECS[name].refs:
                self.dangling(name, ref)
        if self.replace:
            for name in self.present:
                self.still_referenced(name)

    def duplicates(self, name: str) -> None:
        spec, stage = SPECS[name], self.stages[name]
        key = stage.c[spec.key_column]
        first = (
            select(key.label("k"), func.min(stage.c.idx).label("first"))
            .where(key.is_not(None))
            .group_by(key)
            .having(func.count() > 1)
            .subquery()
        )
        later = stage.join(first, and_(key == first.c.k, stage.c.idx > first.c.first))
        query = select(stage.c.idx, first.c.first).select_from(later).order_by(stage.c.idx)
        count = select(func.count()).select_from(later)
        for idx, first_idx in self._fetch(query, count):
            self.errors.add(
                f"{name}[{idx}].{spec.key_field}: duplicate key, also at {name}[{first_idx}]",
                name,
                idx,
            )

    def duplicate_ssns(self) -> None:
        stage = self.stages["people"]
        first = (
            select(stage.c.ssn_hash.label("h"), func.min(stage.c.idx).label("first"))
            .where(stage.c.ssn_hash.is_not(None))
            .group_by(stage.c.ssn_hash)
            .having(func.count() > 1)
            .subquery()
        )
        later = stage.join(first, and_(stage.c.ssn_hash == first.c.h, stage.c.idx > first.c.first))
        query = select(stage.c.idx, first.c.first).select_from(later).order_by(stage.c.idx)
        for idx, first_idx in self._fetch(query, select(func.count()).select_from(later)):
            self.errors.add(
                f"people[{idx}].ssn: the same SSN as people[{first_idx}]", "people", idx
            )
        if self.replace:
            return  # every stored person is either in the file or removed
        live = _t(models.Person)
        other = live.alias("other")
        clash = (
            select(stage.c.idx, other.c.id)
            .select_from(stage.join(other, other.c.ssn_hash == stage.c.ssn_hash))
            .where(other.c.id != stage.c.id)
        )
        # A stored person restated in the file gets the file's SSN: not a clash (a same-SSN
        # pair inside the file is reported above).
        again = stage.alias("again")
        clash = clash.where(~exists().where(again.c.id == other.c.id))
        query = clash.order_by(stage.c.idx)
        for idx, other_id in self._fetch(query, select(func.count()).select_from(clash.subquery())):
            self.errors.add(
                f'people[{idx}].ssn: the same SSN as stored person "{other_id}"', "people", idx
            )

    def dangling(self, name: str, ref: Ref) -> None:
        stage = self.stages[name]
        target_spec = SPECS[ref.target]
        column = stage.c[ref.column]
        conditions = [column.is_not(None)]
        if ref.target in self.present:
            target_stage = self.stages[ref.target]
            conditions.append(~exists().where(target_stage.c[target_spec.key_column] == column))
        live_key = target_spec.table.c[target_spec.key_column]
        replaced = self.replace and ref.target in self.present
        if not replaced:
            conditions.append(~exists().where(live_key == column))
        # With --replace a stored target not in the file is about to be removed: say so.
        stored = exists().where(live_key == column)
        query = select(stage.c.idx, column, stored).where(*conditions).order_by(stage.c.idx)
        count = select(func.count()).select_from(stage).where(*conditions)
        for idx, value, is_stored in self._fetch(query, count):
            if is_stored and replaced:
                message = (
                    f'{ref.noun} "{_show_key(value)}" is not in the file, and --replace'
                    f" removes stored {ref.target} not in the file"
                )
            else:
                message = f'unknown {ref.noun} "{_show_key(value)}"'
            self.errors.add(f"{name}[{idx}].{ref.field}: {message}", name, idx)

    def still_referenced(self, name: str) -> None:
        """Stored records of a list absent from the file that refer to a removed record."""
        spec, stage = SPECS[name], self.stages[name]
        live = spec.table
        live_key = live.c[spec.key_column]
        for referrer_name, ref in REFERRERS.get(name, []):
            if referrer_name in self.present:
                continue  # its rows are in the file and were checked as references
            referrer = SPECS[referrer_name].table
            ref_column = referrer.c[ref.column]
            removed_and_used = (
                select(live_key, func.count().label("n"))
                .select_from(live.join(referrer, ref_column == live_key))
                .where(~exists().where(stage.c[spec.key_column] == live_key))
                .group_by(live_key)
                .order_by(live_key)
            )
            for key, n in self._fetch(
                removed_and_used, select(func.count()).select_from(removed_and_used.subquery())
            ):
                noun, verb = (referrer_name[:-1], "refers") if n == 1 else (referrer_name, "refer")
                self.errors.add(
                    f'{name}: "{_show_key(key)}" is not in the file, but {n} stored {noun}'
                    f" (not in the file) still {verb} to it, so --replace cannot remove it",
                    name,
                )


def _write(
    conn: Connection,
    stages: dict[str, Table],
    present: list[str],
    replace: bool,
    as_of: dt.date | None,
    report: ImportReport,
) -> None:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    if replace and "people" in present:
        _release_removed_ssns(conn, stages["people"])
    for name in present:  # LIST_ORDER: parents before children
        spec, stage = SPECS[name], stages[name]
        live = spec.table
        key = spec.key_column
        columns = list(spec.columns)
        source_columns: list[Any] = [stage.c[c] for c in columns]
        if name == "cases":
            columns.append("as_of")
            source_columns.append(literal(as_of, live.c.as_of.type))
        same = [live.c[c].is_not_distinct_from(src) for c, src in zip(columns, source_columns)]
        identical = exists().where(live.c[key] == stage.c[key], *same)
        stored = exists().where(live.c[key] == stage.c[key])
        counts = report.counts[name]
        counts.inserted = conn.execute(
            select(func.count()).select_from(stage).where(~stored)
        ).scalar_one()
        counts.unchanged = conn.execute(
            select(func.count()).select_from(stage).where(identical)
        ).scalar_one()
        counts.updated = counts.in_file - counts.inserted - counts.unchanged
        if counts.inserted + counts.updated == 0:
            continue
        # WHERE true: SQLite needs it to parse ON CONFLICT after INSERT ... SELECT.
        changed = select(*source_columns).where(~identical).where(true())
        statement = dialect_insert(live).from_select(columns, changed)
        statement = statement.on_conflict_do_update(
            index_elements=[live.c[key]],
            set_={c: statement.excluded[c] for c in columns if c != key},
        )
        conn.execute(statement)
    if replace:
        for name in reversed(present):  # children before parents
            spec, stage = SPECS[name], stages[name]
            live = spec.table
            gone = live.delete().where(
                ~exists().where(stage.c[spec.key_column] == live.c[spec.key_column])
            )
            report.counts[name].removed = conn.execute(gone).rowcount or 0


def _release_removed_ssns(conn: Connection, stage: Table) -> None:
    """People removed by --replace are deleted last (cases may still point at them until the
    cases are rewritten); give their SSN hash a throwaway value first, so a person in the file
    may take over an SSN a removed person held. Both happen in this one transaction."""
    live = _t(models.Person)
    if conn.dialect.name == "postgresql":
        throwaway = func.sha256(func.convert_to(literal("removed\x01") + live.c.id, "UTF8"))
    else:
        throwaway = func.randomblob(32)
    conn.execute(
        live.update()
        .where(~exists().where(stage.c.id == live.c.id))
        .values(ssn_hash=throwaway)
    )


# --- the command ----------------------------------------------------------------------------


def format_report(report: ImportReport, source: str) -> str:
    as_of = report.as_of.isoformat() if report.as_of else "-"
    lines = [
        f"imported {source} (as of {as_of}{', --replace' if report.replace else ''})"
        f": {report.records:,} records in {report.seconds:.1f} s"
    ]
    header = ("list", "in file", "inserted", "updated", "unchanged", "removed")
    rows = [header] + [
        (
            name,
            f"{c.in_file:,}",
            f"{c.inserted:,}",
            f"{c.updated:,}",
            f"{c.unchanged:,}",
            f"{c.removed:,}",
        )
        for name, c in report.counts.items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def run_import_command(settings: Settings, path: Path, *, replace: bool, quiet: bool) -> int:
    from bot.runtime import open_runtime

    def progress(message: str) -> None:
        print(f"csbot import: {message}", file=sys.stderr, flush=True)

    # Fail fast on an unreadable file, before touching the database.
    try:
        _open_source(path)[0].close()
    except ImportFailed as failed:
        print(f"csbot: error: {failed.errors[0]}", file=sys.stderr)
        return 2
    runtime = open_runtime(settings)
    try:
        report = import_extract(
            runtime, path, replace=replace, progress=None if quiet else progress
        )
    except ImportFailed as failed:
        _print_failure(path, failed)
        return 1
    finally:
        runtime.dispose()
    print(format_report(report, str(path)))
    return 0


def _print_failure(path: Path, failed: ImportFailed) -> None:
    lines = failed.lines()
    if failed.total == 1:
        print(f"csbot: error: {path}: {lines[0]} (nothing was imported)", file=sys.stderr)
        return
    print(
        f"csbot: error: {path}: {failed.total} errors, nothing was imported:", file=sys.stderr
    )
    for line in lines:
        print(f"  {line}", file=sys.stderr)
