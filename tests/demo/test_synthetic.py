"""The built-in demo extract and the synthetic extract generator."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from sqlalchemy import func, select

from bot.cli import main
from bot.demo import DEMO_EXTRACT, DEMO_PEOPLE
from bot.demo.synthetic import credentials, generate, write_extract
from bot.importer.pipeline import import_extract
from bot.runtime import open_runtime
from bot.store import models

# --- the demo extract -----------------------------------------------------------------------


def test_demo_extract_imports_and_has_what_the_demo_shows(runtime):
    report = import_extract(runtime, DEMO_EXTRACT)
    assert report.counts["people"].inserted == len(DEMO_PEOPLE)
    data = json.loads(DEMO_EXTRACT.read_text())
    assert {p["language"] for p in data["people"]} == {"en", "fr"}
    receiving = {c["custodial_parent"] for c in data["cases"]}
    paying = {c["noncustodial_parent"] for c in data["cases"]}
    assert receiving & paying, "someone receives on one case and pays on another"
    offices_by_person: dict[str, set[str]] = {}
    for case in data["cases"]:
        for who in (case["custodial_parent"], case["noncustodial_parent"]):
            offices_by_person.setdefault(who, set()).add(case["office"])
    assert any(len(o) >= 2 for o in offices_by_person.values()), "several cases at two offices"
    assert {p["source"] for p in data["payments"]} == {
        "income_withholding", "direct_payment", "tax_refund_offset", "unemployment_benefits", "other"}
    assert {d["method"] for d in data["disbursements"]} == {"direct_deposit", "debit_card", "check"}
    assert max(Counter(p["case_number"] for p in data["payments"]).values()) > 10
    for name in ("coupons", "statements", "notices"):
        assert data[name]
    ssns = {p["ssn"] for p in data["people"]}
    assert ssns <= {f"987-65-432{d}" for d in range(10)}


def test_demo_credentials_match_the_extract(runtime):
    import_extract(runtime, DEMO_EXTRACT)
    with runtime.sessions() as session:
        for demo in DEMO_PEOPLE:
            person = session.get(models.Person, demo.person_id)
            assert f"{person.first_name} {person.last_name}" == demo.name
            assert person.ssn_hash == runtime.hasher.ssn(demo.ssn.replace("-", ""))
            assert person.pin_hash == runtime.hasher.pin(demo.person_id, demo.pin)
            assert person.language == demo.language
            assert demo.ssn in str(demo) and demo.pin in str(demo)


# --- synthetic extracts ---------------------------------------------------------------------


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_file(tmp_path):
    assert generate(tmp_path / "a.json", cases=40, months=4, seed=7) == generate(
        tmp_path / "b.json", cases=40, months=4, seed=7)
    generate(tmp_path / "c.json", cases=40, months=4, seed=8)
    assert _digest(tmp_path / "a.json") == _digest(tmp_path / "b.json")
    assert _digest(tmp_path / "a.json") != _digest(tmp_path / "c.json")


def test_synthetic_extract_shape(tmp_path):
    counts = generate(tmp_path / "s.json", cases=30, months=12, seed=2)
    data = json.loads((tmp_path / "s.json").read_text())
    assert {name: len(data[name]) for name in counts} == counts
    assert counts["people"] == 60 and counts["cases"] == 30
    assert len({p["ssn"] for p in data["people"]}) == 60
    assert all(p["ssn"].startswith("9") for p in data["people"])  # never-issued area 900-999
    assert {p["language"] for p in data["people"]} == {"en", "fr"}
    receiving = {c["custodial_parent"] for c in data["cases"]}
    paying = {c["noncustodial_parent"] for c in data["cases"]}
    assert receiving & paying
    months = {p["date"][:7] for p in data["payments"]}
    assert len(months) == 12
    for i in (0, 17, 59):
        creds = credentials(i, 2)
        person = data["people"][i]
        assert (person["id"], person["ssn"].replace("-", ""), person["pin"]) == (creds.person_id, creds.ssn, creds.pin)


def test_demo_data_command_writes_to_stdout(capsys):
    assert main(["demo-data", "--cases", "3", "--months", "2", "--seed", "5"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["format"] == "csbot-import/1" and len(data["cases"]) == 3
    assert "wrote" in captured.err


def test_demo_data_command_rejects_bad_sizes(capsys):
    assert main(["demo-data", "--cases", "0"]) == 2
    assert "--cases must be at least 1" in capsys.readouterr().err


def test_synthetic_extract_imports(runtime, tmp_path):
    path = tmp_path / "s.json"
    counts = generate(path, cases=200, months=12, seed=4)
    report = import_extract(runtime, path)
    assert {name: c.inserted for name, c in report.counts.items()} == counts
    with runtime.sessions() as session:
        creds = credentials(123, 4)
        person = session.get(models.Person, creds.person_id)
        assert person.ssn_hash == runtime.hasher.ssn(creds.ssn)
        assert person.pin_hash == runtime.hasher.pin(creds.person_id, creds.pin)


def test_ten_thousand_cases_import_on_sqlite(sqlite_url, make_settings, tmp_path):
    """Not a timing test (speed is measured in bench/): the size the benchmark starts from
    must import, and a second import must find everything unchanged."""
    runtime = open_runtime(make_settings(sqlite_url))
    try:
        path = tmp_path / "s10k.json"
        with path.open("w", encoding="utf-8") as out:
            counts = write_extract(out, cases=10_000, months=12, seed=1)
        progress: list[str] = []
        report = import_extract(runtime, path, progress=progress.append)
        assert report.records == sum(counts.values())
        assert progress[:2] == ["100,000 records read", "200,000 records read"]
        assert progress[-1] == "writing"
        with runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(models.Case)) == 10_000
            assert session.scalar(select(func.count()).select_from(models.Person)) == 20_000
        again = import_extract(runtime, path)
        assert all(c.unchanged == c.in_file for c in again.counts.values())
    finally:
        runtime.dispose()
