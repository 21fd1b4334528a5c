"""`csbot import`: every rule of import-format.md, atomicity, idempotency, --replace.

Runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.importer.errors import ImportFailed
from bot.importer.pipeline import import_extract
from bot.store import models

Mutation = Callable[[dict[str, Any]], None]



def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "extract.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def dump(runtime) -> dict[str, list[tuple]]:
    """Every row of every table but import_runs (which grows by one per import)."""
    out = {}
    with runtime.db.connect() as conn:
        for table in models.Base.metadata.sorted_tables:
            if table.name == "import_runs":
                continue
            order = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
    return out


def count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def reject(runtime, tmp_path: Path, data: dict[str, Any] | str, **kwargs) -> ImportFailed:
    before = dump(runtime)
    with pytest.raises(ImportFailed) as info:
        import_extract(runtime, write(tmp_path, data), **kwargs)
    assert dump(runtime) == before, "a rejected import must write nothing"
    return info.value


# --- the example, idempotency, incremental extracts -----------------------------------------


def test_example_imports(runtime, example_extract_path):
    report = import_extract(runtime, example_extract_path)
    assert report.as_of == dt.date(2026, 11, 20)
    assert {name: c.inserted for name, c in report.counts.items()} == {
        "offices": 2, "people": 5, "cases": 3, "payments": 8, "disbursements": 8,
        "coupons": 4, "statements": 2, "notices": 3,
    }
    with runtime.sessions() as session:
        maria = session.get(models.Person, "P-1001")
        assert maria.ssn_hash == runtime.hasher.ssn("987654320")
        assert maria.pin_hash == runtime.hasher.pin("P-1001", "48213")
        assert maria.phone == "+12125550111"
        assert (maria.address_city, maria.address_zip, maria.address_line2) == ("New York", "10027", None)
        case = session.get(models.Case, "CS10000001")
        assert case.support_amount == Decimal("450.00")
        assert case.arrears_balance == Decimal("1475.75")
        assert case.as_of == dt.date(2026, 11, 20)
        assert session.get(models.Payment, "CS10000003-R1").source == "tax_refund_offset"
        runs = session.scalars(select(models.ImportRun)).all()
        assert [(r.records, r.replace) for r in runs] == [(35, False)]


def test_second_import_changes_nothing(runtime, example_extract_path):
    import_extract(runtime, example_extract_path)
    first = dump(runtime)
    report = import_extract(runtime, example_extract_path)
    assert dump(runtime) == first
    assert all(c.unchanged == c.in_file and c.inserted == c.updated == 0 for c in report.counts.values())


def test_later_extract_updates_records(runtime, tmp_path, example_extract):
    import_extract(runtime, write(tmp_path, example_extract, "one.json"))
    changed = copy.deepcopy(example_extract)
    changed["cases"][0]["arrears_balance"] = "1000.00"
    changed["people"][0]["pin"] = "11111"
    report = import_extract(runtime, write(tmp_path, changed, "two.json"))
    assert (report.counts["cases"].updated, report.counts["cases"].unchanged) == (1, 2)
    with runtime.sessions() as session:
        assert session.get(models.Case, "CS10000001").arrears_balance == Decimal("1000.00")
        person = session.get(models.Person, "P-1001")
        assert person.pin_hash == runtime.hasher.pin("P-1001", "11111")


def test_incremental_extract_refers_to_stored_records(runtime, tmp_path, example_extract_path):
    import_extract(runtime, example_extract_path)
    payments_only = {
        "format": "csbot-import/1",
        "as_of": "2026-11-21",
        "payments": [{"id": "NEW-1", "case_number": "CS10000002", "date": "2026-11-20",
                      "amount": "125.50", "source": "other"}],
    }
    report = import_extract(runtime, write(tmp_path, payments_only))
    assert list(report.counts) == ["payments"]
    assert count(runtime, models.Payment) == 9


def test_references_may_point_anywhere_in_the_file(runtime, tmp_path, example_extract):
    # Children first, parents last: the importer may not rely on file order.
    reordered = {"notices": example_extract["notices"], "payments": example_extract["payments"],
                 "cases": example_extract["cases"], "as_of": example_extract["as_of"],
                 "people": example_extract["people"], "offices": example_extract["offices"],
                 "format": example_extract["format"]}
    import_extract(runtime, write(tmp_path, reordered))
    assert count(runtime, models.Case) == 3


def test_optional_fields_and_accepted_forms(runtime, tmp_path, example_extract):
    data = copy.deepcopy(example_extract)
    person = data["people"][0]
    del person["phone"], person["language"]
    person["ssn"] = "987 65 4320"
    person["pin"] = "01234"  # leading zero kept
    person["mailing_address"]["zip"] = "10027-1234"
    person["mailing_address"]["line2"] = "Apt 4"
    data["people"][1]["phone"] = "(212) 555-0122"
    del data["cases"][0]["next_due_date"]
    import_extract(runtime, write(tmp_path, data))
    with runtime.sessions() as session:
        maria = session.get(models.Person, "P-1001")
        assert (maria.phone, maria.language, maria.address_zip) == (None, "en", "10027-1234")
        assert maria.ssn_hash == runtime.hasher.ssn("987654320")
        assert maria.pin_hash == runtime.hasher.pin("P-1001", "01234")
        assert session.get(models.Person, "P-1002").phone == "+12125550122"
        assert session.get(models.Case, "CS10000001").next_due_date is None


def test_phone_in_other_digits_is_stored_in_ascii(runtime, tmp_path, example_extract):
    # The quick North American path takes ASCII digits only; phonenumbers reads the others
    # and the stored number is always ASCII E.164.
    data = copy.deepcopy(example_extract)
    data["people"][1]["phone"] = "(212) 555-\uff10\uff11\uff12\uff12"
    import_extract(runtime, write(tmp_path, data))
    with runtime.sessions() as session:
        assert session.get(models.Person, "P-1002").phone == "+12125550122"


# --- one rule, one error ---------------------------------------------------------------------


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[parts[-1]]

    return mutate


RULES: list[tuple[str, Mutation, str]] = [
    ("wrong format", _set("format", "csbot-import/2"), 'format: must be "csbot-import/1"'),
    ("missing format", _delete("format"), "format: is required"),
    ("missing as_of", _delete("as_of"), "as_of: is required"),
    ("bad as_of", _set("as_of", "20/11/2026"), "as_of: must be a date YYYY-MM-DD"),
    ("unknown top-level field", _set("peeple", []), "peeple: unknown field"),
    ("list not a list", _set("offices", {}), "offices: must be a list"),
    ("record not an object", _set("payments.0", "CS10000001-R1"), "payments[0]: must be an object"),
    ("office code shape", _set("offices.0.code", "man"),
     "offices[0].code: must be 1-16 characters of A-Z, 0-9 and -"),
    ("office email", _set("offices.1.email", "brooklyn office"), "offices[1].email: must be an email address"),
    ("required field", _delete("offices.0.name"), "offices[0].name: is required"),
    ("empty string", _set("offices.0.address", "  "), "offices[0].address: must not be empty"),
    ("string type", _set("offices.0.phone", 2125550100), "offices[0].phone: must be a string"),
    ("too long", _set("people.0.id", "P" * 33), "people[0].id: must be at most 32 characters"),
    ("ssn shape", _set("people.2.ssn", "987-65-432"), "people[2].ssn: must be 9 digits (dashes and spaces allowed)"),
    ("ssn as number", _set("people.2.ssn", 987654322), "people[2].ssn: must be 9 digits as a string"),
    ("4-digit pin", _set("people.1.pin", "9051"), "people[1].pin: must be exactly 5 digits"),
    ("pin as number", _set("people.1.pin", 90517), "people[1].pin: must be exactly 5 digits"),
    ("pin with letters", _set("people.1.pin", "9051a"), "people[1].pin: must be exactly 5 digits"),
    ("date shape", _set("people.0.date_of_birth", "03/14/1988"), "people[0].date_of_birth: must be a date YYYY-MM-DD"),
    ("impossible date", _set("people.0.date_of_birth", "1988-02-30"),
     "people[0].date_of_birth: is not a real calendar date"),
    ("phone", _set("people.0.phone", "555-01"), "people[0].phone: is not a valid phone number"),
    ("phone garbage", _set("people.0.phone", "call me"), "people[0].phone: must be a phone number"),
    ("language", _set("people.0.language", "de"), "people[0].language: must be one of en, fr"),
    ("address missing", _delete("people.0.mailing_address"), "people[0].mailing_address: is required"),
    ("address not an object", _set("people.0.mailing_address", "12 West St"),
     "people[0].mailing_address: must be an object"),
    ("address zip", _set("people.0.mailing_address.zip", "1002"),
     "people[0].mailing_address.zip: must be a ZIP code: 5 digits or ZIP+4 (12345-6789)"),
    ("address city missing", _delete("people.0.mailing_address.city"), "people[0].mailing_address.city: is required"),
    ("address unknown field", _set("people.0.mailing_address.country", "US"),
     "people[0].mailing_address.country: unknown field"),
    ("unknown record field", _set("people.0.middle_name", "Ana"), "people[0].middle_name: unknown field"),
    ("case number shape", _set("cases.0.case_number", "cs-1"),
     "cases[0].case_number: must be 1-20 characters of A-Z and 0-9"),
    ("frequency", _set("cases.1.current_support.frequency", "daily"),
     "cases[1].current_support.frequency: must be one of weekly, biweekly, semimonthly, monthly"),
    ("float amount", _set("payments.0.amount", 450.0),
     'payments[0].amount: must be a string with two decimals, e.g. "12.50", not a JSON number'),
    ("integer amount", _set("cases.0.current_support.amount", 450),
     'cases[0].current_support.amount: must be a string with two decimals, e.g. "12.50", not a JSON number'),
    ("one decimal", _set("payments.0.amount", "450.0"),
     'payments[0].amount: must be an amount with exactly two decimals, e.g. "12.50"'),
    ("thousands separator", _set("cases.0.arrears_balance", "1,475.75"),
     'cases[0].arrears_balance: must be an amount with exactly two decimals, e.g. "12.50"'),
    ("negative amount", _set("disbursements.2.amount", "-225.00"), "disbursements[2].amount: must not be negative"),
    ("source", _set("payments.1.source", "cash"),
     "payments[1].source: must be one of income_withholding, direct_payment, tax_refund_offset,"
     " unemployment_benefits, other"),
    ("method", _set("disbursements.0.method", "wire"),
     "disbursements[0].method: must be one of direct_deposit, debit_card, check"),
    ("month", _set("notices.0.month", "2026-13"), "notices[0].month: must be a month YYYY-MM"),
    ("statement arithmetic", _set("statements.0.closing_balance", "1.00"),
     "statements[0].closing_balance: must equal opening_balance + support_due - payments_received"),
    ("statement period", _set("statements.0.period_end", "2026-01-01"),
     "statements[0].period_end: must not be before period_start"),
    ("same parent twice", _set("cases.0.noncustodial_parent", "P-1001"),
     "cases[0].noncustodial_parent: must differ from custodial_parent"),
    ("unknown office", _set("cases.0.office", "QNS"), 'cases[0].office: unknown office "QNS"'),
    ("unknown person", _set("cases.2.custodial_parent", "P-9999"),
     'cases[2].custodial_parent: unknown person "P-9999"'),
    ("unknown case", _set("coupons.1.case_number", "CS99999999"), 'coupons[1].case_number: unknown case "CS99999999"'),
    ("duplicated key", _set("payments.3.id", "CS10000001-R3"), "payments[3].id: duplicate key, also at payments[2]"),
    ("duplicated SSN", _set("people.4.ssn", "987654320"), "people[4].ssn: the same SSN as people[0]"),
    # Digits are ASCII only: full-width or Arabic-Indic digits are an error, never a crash in the
    # hasher (SSN, PIN) nor a value stored as written (ZIP, month, amount).
    ("ssn in full-width digits", _set("people.2.ssn", "\uff19\uff18\uff17\uff16\uff15\uff14\uff13\uff12\uff10"),
     "people[2].ssn: must be 9 digits (dashes and spaces allowed)"),
    ("ssn in Arabic-Indic digits", _set("people.2.ssn", "\u0669\u0668\u0667-\u0666\u0665-\u0664\u0663\u0662\u0660"),
     "people[2].ssn: must be 9 digits (dashes and spaces allowed)"),
    ("pin in full-width digits", _set("people.1.pin", "\uff19\uff10\uff15\uff11\uff17"),
     "people[1].pin: must be exactly 5 digits"),
    # "$" matches before a final newline: a PIN stored as "90517\n" could never be typed.
    ("pin with a trailing newline", _set("people.1.pin", "90517\n"), "people[1].pin: must be exactly 5 digits"),
    ("office code with a trailing newline", _set("offices.0.code", "MAN\n"),
     "offices[0].code: must be 1-16 characters of A-Z, 0-9 and -"),
    ("zip in full-width digits", _set("people.0.mailing_address.zip", "\uff11\uff10\uff10\uff12\uff17"),
     "people[0].mailing_address.zip: must be a ZIP code: 5 digits or ZIP+4 (12345-6789)"),
    ("date in full-width digits", _set("people.0.date_of_birth", "\uff11\uff19\uff18\uff18-03-14"),
     "people[0].date_of_birth: must be a date YYYY-MM-DD"),
    ("month in full-width digits", _set("notices.0.month", "\uff12\uff10\uff12\uff16-10"),
     "notices[0].month: must be a month YYYY-MM"),
    ("amount in full-width digits", _set("payments.0.amount", "\uff14\uff15\uff10.00"),
     'payments[0].amount: must be an amount with exactly two decimals, e.g. "12.50"'),
]


@pytest.mark.parametrize("mutate,expected", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_is_enforced(runtime, tmp_path, example_extract, mutate, expected):
    data = copy.deepcopy(example_extract)
    mutate(data)
    failed = reject(runtime, tmp_path, data)
    assert expected in "\n".join(failed.errors)
    assert count(runtime, models.Person) == 0


def test_duplicate_field_in_a_record(runtime, tmp_path, example_extract_path):
    text = example_extract_path.read_text().replace('"pin": "48213",', '"pin": "48213", "pin": "48213",')
    failed = reject(runtime, tmp_path, text)
    assert failed.errors == ["people[0].pin: appears more than once"]


def test_list_given_twice(runtime, tmp_path, example_extract_path):
    text = example_extract_path.read_text().rstrip().rstrip("}") + ', "offices": []}'
    failed = reject(runtime, tmp_path, text)
    assert failed.errors == ["offices: appears more than once"]


def test_same_ssn_as_a_stored_person(runtime, tmp_path, example_extract_path, example_extract):
    import_extract(runtime, example_extract_path)
    newcomer = copy.deepcopy(example_extract["people"][0])
    newcomer["id"] = "P-2001"
    data = {"format": "csbot-import/1", "as_of": "2026-11-21", "people": [newcomer]}
    failed = reject(runtime, tmp_path, data)
    assert failed.errors == ['people[0].ssn: the same SSN as stored person "P-1001"']


def test_a_stored_person_may_change_ssn(runtime, tmp_path, example_extract_path, example_extract):
    import_extract(runtime, example_extract_path)
    maria = copy.deepcopy(example_extract["people"][0])
    maria["ssn"] = "987-65-4329"
    import_extract(runtime, write(tmp_path, {"format": "csbot-import/1", "as_of": "2026-11-21", "people": [maria]}))
    with runtime.sessions() as session:
        assert session.get(models.Person, "P-1001").ssn_hash == runtime.hasher.ssn("987654329")


def test_all_errors_at_once_in_file_order(runtime, tmp_path, example_extract):
    data = copy.deepcopy(example_extract)
    data["notices"][2]["collected"] = 1.5
    data["people"][3]["pin"] = "123"
    data["cases"][1]["office"] = "NOPE"
    data["offices"][0]["fax"] = "none"
    failed = reject(runtime, tmp_path, data)
    assert failed.errors == [
        "offices[0].fax: unknown field",
        "people[3].pin: must be exactly 5 digits",
        'cases[1].office: unknown office "NOPE"',
        'notices[2].collected: must be a string with two decimals, e.g. "12.50", not a JSON number',
    ]
    assert failed.total == 4


def test_errors_are_capped(runtime, tmp_path, example_extract):
    data = copy.deepcopy(example_extract)
    template = data["payments"][0]
    data["payments"] = [dict(template, id=f"X{i}", amount="1") for i in range(250)]
    failed = reject(runtime, tmp_path, data)
    assert failed.total == 250
    lines = failed.lines()
    assert len(lines) == 101
    assert lines[0] == 'payments[0].amount: must be an amount with exactly two decimals, e.g. "12.50"'
    assert lines[-1] == "... and 150 more"


def test_bad_json_names_the_line(runtime, tmp_path, example_extract_path):
    text = example_extract_path.read_text().replace('"pin": "48213",', '"pin": "48213"')
    failed = reject(runtime, tmp_path, text)
    assert failed.errors == ["invalid JSON at line 27, column 7"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"format": "csbot-import/1", "people": [', "invalid JSON: the file ends before the JSON object does"),
        ("", "invalid JSON: the file ends before the JSON object does"),
        ("[]", "the file must hold one JSON object"),
    ],
)
def test_not_an_extract(runtime, tmp_path, text, expected):
    assert reject(runtime, tmp_path, text).errors == [expected]


def test_missing_file(runtime, tmp_path):
    with pytest.raises(ImportFailed) as info:
        import_extract(runtime, tmp_path / "nope.json")
    assert info.value.errors == [f"{tmp_path / 'nope.json'}: no such file"]


# --- --replace ----------------------------------------------------------------------------


def test_replace_removes_what_the_file_no_longer_has(runtime, tmp_path, example_extract, example_extract_path):
    import_extract(runtime, example_extract_path)
    smaller = copy.deepcopy(example_extract)
    smaller["payments"] = [p for p in smaller["payments"] if p["case_number"] != "CS10000001"]
    report = import_extract(runtime, write(tmp_path, smaller), replace=True)
    assert report.counts["payments"].removed == 5
    assert report.counts["cases"].removed == 0
    assert count(runtime, models.Payment) == 3
    # Without --replace a smaller file removes nothing.
    with runtime.sessions() as session:
        assert session.scalars(select(models.ImportRun.replace).order_by(models.ImportRun.id)).all() == [False, True]


def test_replace_only_touches_lists_in_the_file(runtime, tmp_path, example_extract, example_extract_path):
    import_extract(runtime, example_extract_path)
    only_coupons = {"format": "csbot-import/1", "as_of": "2026-11-21", "coupons": example_extract["coupons"][:1]}
    report = import_extract(runtime, write(tmp_path, only_coupons), replace=True)
    assert report.counts["coupons"].removed == 3
    assert count(runtime, models.Payment) == 8


def test_replace_refuses_to_remove_what_is_still_referred_to(runtime, tmp_path, example_extract, example_extract_path):
    import_extract(runtime, example_extract_path)
    fewer_cases = {"format": "csbot-import/1", "as_of": "2026-11-21",
                   "cases": [c for c in example_extract["cases"] if c["case_number"] != "CS10000003"]}
    failed = reject(runtime, tmp_path, fewer_cases, replace=True)
    assert failed.errors == [
        f'cases: "CS10000003" is not in the file, but 1 stored {noun} (not in the file) still'
        " refers to it, so --replace cannot remove it"
        for noun in ("payment", "disbursement", "coupon", "notice")
    ]


def test_replace_reference_to_a_record_being_removed(runtime, tmp_path, example_extract, example_extract_path):
    import_extract(runtime, example_extract_path)
    data = copy.deepcopy(example_extract)
    data["offices"] = data["offices"][:1]  # BKN dropped, but cases in the file still use it
    failed = reject(runtime, tmp_path, data, replace=True)
    assert failed.errors[0] == (
        'cases[1].office: office "BKN" is not in the file, and --replace removes stored offices not in the file'
    )


def test_replace_whole_file_removes_a_case_and_its_records(runtime, tmp_path, example_extract, example_extract_path):
    import_extract(runtime, example_extract_path)
    data = copy.deepcopy(example_extract)
    for name in ("cases", "payments", "disbursements", "coupons", "statements", "notices"):
        key = "case_number"
        data[name] = [r for r in data[name] if r[key] != "CS10000003"]
    data["people"] = [p for p in data["people"] if p["id"] != "P-1005"]
    # A new person takes over the SSN of the removed one, in the same transaction.
    data["people"].append(dict(copy.deepcopy(example_extract["people"][4]), id="P-1006"))
    report = import_extract(runtime, write(tmp_path, data), replace=True)
    assert report.counts["cases"].removed == 1
    assert report.counts["people"].removed == 1
    with runtime.sessions() as session:
        assert session.get(models.Case, "CS10000003") is None
        assert session.get(models.Person, "P-1005") is None
        assert session.get(models.Person, "P-1006").ssn_hash == runtime.hasher.ssn("987654324")


# --- atomicity ----------------------------------------------------------------------------


def test_a_bad_record_late_in_a_big_file_writes_nothing(runtime, tmp_path, example_extract_path):
    from bot.demo.synthetic import generate

    import_extract(runtime, example_extract_path)
    before = dump(runtime)
    path = tmp_path / "big.json"
    generate(path, cases=300, months=6, seed=3)
    text = path.read_text()
    last = text.rindex('"balance_owed":"')
    start = last + len('"balance_owed":"')
    end = text.index('"', start)
    text = text[:start] + "-1.00" + text[end:]
    path.write_text(text)
    with pytest.raises(ImportFailed) as info:
        import_extract(runtime, path)
    assert len(info.value.errors) == 1
    assert info.value.errors[0].startswith("notices[")
    assert info.value.errors[0].endswith("].balance_owed: must not be negative")
    assert dump(runtime) == before
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(models.ImportRun)) == 1
