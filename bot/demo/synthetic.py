"""Large, valid synthetic extracts (`csbot demo-data`) for benchmarks and tests.

The extract is written as it is generated (each list to a temporary file, then joined), so
memory does not grow with the number of cases. The same seed gives the same file.

Scheme, so a benchmark can find its way around the data:
- case `c` (0-based) is `CASE_PREFIX + c` as 9 digits, e.g. "SY000000042";
- person `i` has id `"SP%08d" % i`; case `c` has custodial parent `2c` and noncustodial
  parent `2c + 1`, except every tenth case (c % 10 == 9), whose paying parent is the
  receiving parent of case c - 1: that person receives on one case and pays on another
  (and person `2c + 1` then has no case);
- person `i`'s SSN is the 9 digits of 900000000 + i. Area numbers 900-999 are never issued
  by the SSA, so synthetic SSNs can never be a real person's, and they never collide
  (up to 100,000,000 people);
- person `i`'s PIN is 5 digits derived from (seed, i): `credentials(i, seed)` gives both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from bot.importer.spec import FORMAT, LIST_ORDER

DEFAULT_AS_OF = dt.date(2026, 11, 20)
SSN_BASE = 900_000_000
CASE_PREFIX = "SY"
CENT = Decimal("0.01")

_FIRST = ["Maria", "James", "Aminata", "Claude", "Dana", "Luis", "Chloe", "Marc", "Nadia",
          "Omar", "Julie", "Pierre", "Grace", "Kevin", "Sophie", "Andre", "Fatou", "Emma"]
_LAST = ["Lopez", "Carter", "Diallo", "Mercier", "Reed", "Tremblay", "Nguyen", "Gagnon",
         "Smith", "Roy", "Johnson", "Bouchard", "Williams", "Cote", "Brown", "Pelletier"]
_STREETS = ["Main Street", "Bedford Avenue", "Ocean Parkway", "Grand Concourse", "Hill Road",
            "Broadway", "Atlantic Avenue", "Park Place"]
_CITIES = [("New York", "NY", "100"), ("Brooklyn", "NY", "112"), ("Bronx", "NY", "104"),
           ("Albany", "NY", "122"), ("Buffalo", "NY", "142")]
_FREQUENCY_PER_MONTH = {"weekly": 4, "biweekly": 2, "semimonthly": 2, "monthly": 1}
_SOURCES = ["income_withholding"] * 6 + ["direct_payment"] * 2 + [
    "tax_refund_offset", "unemployment_benefits", "other"]
_METHODS = ["direct_deposit", "direct_deposit", "debit_card", "check"]


@dataclass(frozen=True)
class Credentials:
    person_id: str
    ssn: str  # 9 digits
    pin: str  # 5 digits


def person_id(index: int) -> str:
    return f"SP{index:08d}"


def case_number(case_index: int) -> str:
    return f"{CASE_PREFIX}{case_index:09d}"


def credentials(index: int, seed: int = 1) -> Credentials:
    """The SSN and PIN of synthetic person `index` in the extract made with `seed`."""
    if not 0 <= index < 100_000_000:
        raise ValueError("synthetic person index must be 0..99,999,999")
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    pin = int.from_bytes(digest, "big") % 100_000
    return Credentials(person_id(index), f"{SSN_BASE + index:09d}", f"{pin:05d}")


def _months_back(as_of: dt.date, count: int) -> list[tuple[int, int]]:
    """The `count` months ending with as_of's month, oldest first, as (year, month)."""
    out = []
    year, month = as_of.year, as_of.month
    for _ in range(count):
        out.append((year, month))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


class _Lists:
    """One temporary file per list; joined into the output at the end."""

    def __init__(self) -> None:
        # Closed by finish(): one spool file per list while the cases are generated.
        self.files = {name: tempfile.TemporaryFile("w+", encoding="utf-8") for name in LIST_ORDER}  # noqa: SIM115
        self.counts = dict.fromkeys(LIST_ORDER, 0)

    def add(self, name: str, record: dict[str, Any]) -> None:
        handle = self.files[name]
        if self.counts[name]:
            handle.write(",\n")
        handle.write(_dump(record))
        self.counts[name] += 1

    def join(self, out: TextIO, as_of: dt.date) -> None:
        out.write(f'{{"format":"{FORMAT}","as_of":"{as_of.isoformat()}"')
        for name in LIST_ORDER:
            handle = self.files[name]
            handle.seek(0)
            out.write(f',\n"{name}":[\n')
            shutil.copyfileobj(handle, out, 1 << 20)
            out.write("\n]")
            handle.close()
        out.write("}\n")


def write_extract(
    out: TextIO,
    *,
    cases: int,
    months: int = 12,
    seed: int = 1,
    as_of: dt.date = DEFAULT_AS_OF,
) -> dict[str, int]:
    """Write a valid csbot-import/1 extract; return the number of records per list."""
    if cases < 1:
        raise ValueError("cases must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    lists = _Lists()
    office_count = min(50, 2 + cases // 2000)
    for o in range(office_count):
        code = f"OFF-{o:03d}"
        lists.add("offices", {
            "code": code,
            "name": f"Synthetic Child Support Office {o}",
            "email": f"office{o}@example.org",
            "phone": f"+1 518 555 {o % 100:04d}",
            "address": f"{o + 1} State Street, Albany, NY 12207",
        })
    for i in range(2 * cases):
        lists.add("people", _person(i, seed))
    month_list = _months_back(as_of, months)
    for c in range(cases):
        _case(lists, c, seed, office_count, month_list, as_of)
    lists.join(out, as_of)
    return lists.counts


def _person(i: int, seed: int) -> dict[str, Any]:
    rng = random.Random(f"p{seed}:{i}")
    creds = credentials(i, seed)
    city, state, zip3 = rng.choice(_CITIES)
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(14_000))
    person: dict[str, Any] = {
        "id": creds.person_id,
        "first_name": rng.choice(_FIRST),
        "last_name": rng.choice(_LAST),
        "ssn": f"{creds.ssn[:3]}-{creds.ssn[3:5]}-{creds.ssn[5:]}",
        "pin": creds.pin,
        "date_of_birth": birth.isoformat(),
        "language": "fr" if rng.random() < 0.2 else "en",
        "mailing_address": {
            "line1": f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}",
            "city": city,
            "state": state,
            "zip": f"{zip3}{rng.randrange(100):02d}",
        },
    }
    if i % 3:  # most, not all, have a phone on file
        person["phone"] = f"+1212555{i % 10000:04d}"
    if i % 7 == 0:
        person["mailing_address"]["line2"] = f"Apt {rng.randrange(1, 40)}"
    return person


def _case(
    lists: _Lists,
    c: int,
    seed: int,
    office_count: int,
    month_list: list[tuple[int, int]],
    as_of: dt.date,
) -> None:
    rng = random.Random(f"c{seed}:{c}")
    number = case_number(c)
    custodial = 2 * c
    paying = 2 * (c - 1) if c % 10 == 9 else 2 * c + 1
    frequency = rng.choice(list(_FREQUENCY_PER_MONTH))
    amount = Decimal(rng.randrange(5000, 60000)) / 100
    monthly_due = amount * _FREQUENCY_PER_MONTH[frequency]
    balance = Decimal(rng.randrange(0, 500000)) / 100  # arrears before the first month
    reliability = rng.random()

    # Month by month: what was due, what was paid (never more than due, so the balance
    # never goes negative), what was sent on.
    monthly: list[tuple[tuple[int, int], Decimal, Decimal, Decimal, Decimal]] = []
    for k, (year, month) in enumerate(month_list):
        opening = balance
        paid = Decimal(0)
        draw = rng.random()
        if draw < reliability:
            paid = monthly_due if draw < reliability * 0.8 else (monthly_due / 2).quantize(CENT)
        if paid:
            day = rng.randrange(1, 26)
            paid_on = dt.date(year, month, day)
            if paid_on <= as_of:
                lists.add("payments", {
                    "id": f"{number}-P{k}",
                    "case_number": number,
                    "date": paid_on.isoformat(),
                    "amount": _money(paid),
                    "source": rng.choice(_SOURCES),
                })
                lists.add("disbursements", {
                    "id": f"{number}-D{k}",
                    "case_number": number,
                    "date": (paid_on + dt.timedelta(days=2)).isoformat(),
                    "amount": _money(paid),
                    "method": rng.choice(_METHODS),
                })
            else:
                paid = Decimal(0)
        balance = opening + monthly_due - paid
        monthly.append(((year, month), opening, monthly_due, paid, balance))

    # Quarterly statements from the monthly figures (closing = opening + due - received).
    for q in range(0, len(monthly), 3):
        chunk = monthly[q : q + 3]
        start = dt.date(*chunk[0][0], 1)
        last_year, last_month = chunk[-1][0]
        end = _month_end(last_year, last_month)
        lists.add("statements", {
            "id": f"{number}-S{q // 3}",
            "case_number": number,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "opening_balance": _money(chunk[0][1]),
            "support_due": _money(sum((m[2] for m in chunk), Decimal(0))),
            "payments_received": _money(sum((m[3] for m in chunk), Decimal(0))),
            "closing_balance": _money(chunk[-1][4]),
        })
    # Monthly notices for the last three months.
    for (year, month), _opening, _due, paid, owed in monthly[-3:]:
        lists.add("notices", {
            "id": f"{number}-N{year:04d}{month:02d}",
            "case_number": number,
            "month": f"{year:04d}-{month:02d}",
            "collected": _money(paid),
            "disbursed": _money(paid),
            "balance_owed": _money(owed),
        })
    next_due = _next_month_first(as_of)
    for k in range(2):
        lists.add("coupons", {
            "id": f"{number}-K{k}",
            "case_number": number,
            "due_date": next_due.isoformat(),
            "amount": _money(monthly_due),
        })
        next_due = _next_month_first(next_due)
    lists.add("cases", {
        "case_number": number,
        "office": f"OFF-{c % office_count:03d}",
        "custodial_parent": person_id(custodial),
        "noncustodial_parent": person_id(paying),
        "current_support": {"amount": _money(amount), "frequency": frequency},
        "arrears_balance": _money(balance),
        "next_due_date": _next_month_first(as_of).isoformat(),
    })


def _month_end(year: int, month: int) -> dt.date:
    return _next_month_first(dt.date(year, month, 1)) - dt.timedelta(days=1)


def _next_month_first(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def generate(path: Path, *, cases: int, months: int = 12, seed: int = 1) -> dict[str, int]:
    """Write a synthetic extract to `path`; return the record counts per list."""
    with Path(path).open("w", encoding="utf-8", buffering=1 << 20) as out:
        return write_extract(out, cases=cases, months=months, seed=seed)
