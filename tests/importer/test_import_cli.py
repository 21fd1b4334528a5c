"""`csbot import` through the real command line: bad inputs, exit codes, and secrets kept out
of the database, the output and the logs."""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import String, Text, create_engine, func, select

from bot.cli import main
from bot.store import models
from bot.store.database import normalise_url


def write(tmp_path: Path, data, name: str = "extract.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


def people_count(db_url: str) -> int:
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(models.Person)).scalar_one()
    finally:
        engine.dispose()


def test_example_through_the_cli(db_url, make_settings, example_extract_path, capsys):
    make_settings(db_url)
    assert main(["import", str(example_extract_path)]) == 0
    out = capsys.readouterr().out
    assert "35 records" in out
    assert re.search(r"people\s+5\s+5\s+0\s+0\s+0", out)
    assert main(["import", "--quiet", str(example_extract_path)]) == 0
    assert re.search(r"people\s+5\s+0\s+0\s+5\s+0", capsys.readouterr().out)


def _bad(example: dict, what: str):
    data = copy.deepcopy(example)
    if what == "wrong format":
        data["format"] = "csbot-import/0"
        return data, 'format: must be "csbot-import/1"'
    if what == "4-digit PIN":
        data["people"][0]["pin"] = "4821"
        return data, "people[0].pin: must be exactly 5 digits"
    if what == "float amount":
        data["payments"][4]["amount"] = 225.0
        return data, "payments[4].amount: must be a string with two decimals"
    if what == "negative amount":
        data["coupons"][0]["amount"] = "-450.00"
        return data, "coupons[0].amount: must not be negative"
    if what == "unknown office":
        data["cases"][2]["office"] = "XX"
        return data, 'cases[2].office: unknown office "XX"'
    if what == "duplicated key":
        data["disbursements"][3]["id"] = "CS10000001-D1"
        return data, "disbursements[3].id: duplicate key, also at disbursements[0]"
    if what == "dangling reference":
        data["notices"][1]["case_number"] = "CS77777777"
        return data, 'notices[1].case_number: unknown case "CS77777777"'
    if what == "unknown field":
        data["disbursements"][0]["memo"] = "x"
        return data, "disbursements[0].memo: unknown field"
    raise AssertionError(what)


BAD = ["wrong format", "4-digit PIN", "float amount", "negative amount", "unknown office",
       "duplicated key", "dangling reference", "unknown field"]


@pytest.mark.parametrize("what", BAD)
def test_bad_input_is_one_clear_error(db_url, make_settings, example_extract, tmp_path, capsys, what):
    make_settings(db_url)
    data, expected = _bad(example_extract, what)
    path = write(tmp_path, data)
    assert main(["import", str(path)]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"csbot: error: {path}: {expected}")
    assert captured.err.endswith("(nothing was imported)\n")
    assert len(captured.err.splitlines()) == 1
    assert "Traceback" not in captured.err
    assert people_count(db_url) == 0


def test_several_errors_are_listed(sqlite_url, make_settings, example_extract, tmp_path, capsys):
    make_settings(sqlite_url)
    data = copy.deepcopy(example_extract)
    data["people"][0]["pin"] = "4821"
    data["cases"][2]["office"] = "XX"
    path = write(tmp_path, data)
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"csbot: error: {path}: 2 errors, nothing was imported:",
        "  people[0].pin: must be exactly 5 digits",
        '  cases[2].office: unknown office "XX"',
    ]


def test_missing_file(sqlite_url, make_settings, tmp_path, capsys):
    make_settings(sqlite_url)
    assert main(["import", str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err == f"csbot: error: {tmp_path / 'nope.json'}: no such file\n"


def test_folder_instead_of_file(sqlite_url, make_settings, tmp_path, capsys):
    make_settings(sqlite_url)
    assert main(["import", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"csbot: error: {tmp_path}: is a folder, not a file\n"


def test_invalid_json(db_url, make_settings, example_extract_path, tmp_path, capsys):
    make_settings(db_url)
    text = example_extract_path.read_text().replace('"ssn": "987-65-4321",', '"ssn": 987-65-4321,')
    path = write(tmp_path, text)
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"csbot: error: {path}: invalid JSON at line 41, column 14 (nothing was imported)\n"
    assert people_count(db_url) == 0


def test_not_utf8(sqlite_url, make_settings, tmp_path, capsys):
    make_settings(sqlite_url)
    path = tmp_path / "latin1.json"
    latin1 = '{"format": "csbot-import/1", "as_of": "2026-11-20", "offices": [{"name": "Montr\xe9al"}]}'
    path.write_bytes(latin1.encode("latin-1"))
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"csbot: error: {path}: ")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_unreachable_database_is_one_line(make_settings, example_extract_path, capsys):
    make_settings("postgresql://postgres@127.0.0.1:1/nowhere")
    assert main(["import", str(example_extract_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("csbot: error: cannot reach the database at postgresql")
    assert len(err.splitlines()) == 1


def test_missing_secret_key(sqlite_url, make_settings, example_extract_path, monkeypatch, capsys):
    make_settings(sqlite_url)
    monkeypatch.delenv("CSBOT_SECRET_KEY")
    assert main(["import", str(example_extract_path)]) == 2
    assert "CSBOT_SECRET_KEY is not set" in capsys.readouterr().err


# --- no SSN or PIN anywhere -----------------------------------------------------------------


def _secrets(example: dict) -> tuple[list[str], list[str]]:
    ssns = [p["ssn"] for p in example["people"]]
    return ssns + [s.replace("-", "") for s in ssns] + [s.replace("-", " ") for s in ssns], [
        p["pin"] for p in example["people"]
    ]


def test_no_ssn_or_pin_in_the_database_file(sqlite_url, make_settings, example_extract, example_extract_path, capsys):
    make_settings(sqlite_url)
    assert main(["import", str(example_extract_path)]) == 0
    ssns, pins = _secrets(example_extract)
    db_path = Path(sqlite_url.removeprefix("sqlite:///"))
    blob = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for ssn in ssns:
        assert ssn.encode() not in blob
    # PINs are 5 digits that could occur by chance in binary pages: look in every text column.
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        for table in models.Base.metadata.sorted_tables:
            text_columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for row in conn.execute(select(*text_columns)) if text_columns else []:
                for value in row:
                    for secret in pins + ssns:
                        assert value is None or secret not in str(value), (table.name, secret)
    engine.dispose()


def test_no_ssn_or_pin_in_postgres(postgres_url, make_settings, example_extract, example_extract_path, capsys):
    make_settings(postgres_url)
    assert main(["import", str(example_extract_path)]) == 0
    ssns, pins = _secrets(example_extract)
    engine = create_engine(normalise_url(postgres_url))
    with engine.connect() as conn:
        for table in models.Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                flat = " ".join(v.hex() if isinstance(v, bytes) else str(v) for v in row)
                for secret in ssns + pins:
                    assert secret not in flat, (table.name,)
    engine.dispose()


def test_secrets_never_echoed_in_errors_or_logs(sqlite_url, make_settings, example_extract, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    make_settings(sqlite_url)
    data = copy.deepcopy(example_extract)
    wrong_ssn, wrong_pin = "987-65-43", "4821"
    data["people"][0]["ssn"] = wrong_ssn
    data["people"][1]["pin"] = wrong_pin
    data["people"][2]["pin"] = 31764  # a number: still not echoed
    data["people"][3]["ssn"] = "987654320"  # same as people[0] would have been: no echo
    data["people"][4]["ssn"] = "987-65-4320"
    path = write(tmp_path, data)
    assert main(["import", str(path)]) == 1
    # ... and a syntax error right inside an SSN.
    broken_text = json.dumps(example_extract, indent=2).replace('"987-65-4322"', '"987-65-4322')
    broken = write(tmp_path, broken_text, "broken.json")
    assert main(["import", str(broken)]) == 1
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert "people[0].ssn" in everything and "people[1].pin" in everything
    secrets = [wrong_ssn, wrong_ssn.replace("-", ""), wrong_pin, "31764", "987654320", "987-65-4320",
               "987-65-4322", "987654322"]
    secrets += _secrets(example_extract)[0] + _secrets(example_extract)[1]
    for secret in secrets:
        assert secret not in everything, secret
