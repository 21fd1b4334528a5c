""".ci/audit trusts a pip-audit run only as far as its report proves (.ci/pip_audit_report.py).

pip-audit says "No known vulnerabilities found" when PyPI had data for nothing; the summary must
say "skipped" (or "partial") then, and fail CI only for a vulnerable installed package.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from tests.support.ci_scripts import load

report = load("pip_audit_report")
CANARY = ("django", "2.2")
CANARY_FOUND = {"name": "django", "version": "2.2", "vulns": [{"id": "PYSEC-2019-1", "fix_versions": ["2.2.1"]}]}
EDITABLE = {"name": "csbot", "skip_reason": "distribution marked as editable"}


def _skipped(name: str) -> dict:
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} (1.0)"}


def _clean(name: str) -> dict:
    return {"name": name, "version": "1.0", "vulns": []}


def _says_nothing_found(lines: list[str]) -> bool:
    return any("no known vulnerabilities" in line.lower() for line in lines)


@pytest.mark.parametrize(
    ("dependencies", "exit_status", "reason"),
    [
        ([_skipped("django"), _skipped("h11"), _skipped("urllib3"), EDITABLE], 0, "no data for django 2.2"),  # this machine
        ([_clean("django"), _clean("h11")], 0, "without its known advisories"),  # a mirror without advisory data
        ([CANARY_FOUND, _skipped("h11"), EDITABLE], 1, "no data for any of the 1 installed"),
        ([_clean("h11")], 0, "canary django 2.2 is missing"),
        ([CANARY_FOUND, _clean("h11")], 2, "pip-audit failed (exit 2)"),
    ],
)
def test_a_run_that_could_not_check_says_skipped(dependencies, exit_status, reason) -> None:
    lines, code = report.summarize({"dependencies": dependencies, "fixes": []}, exit_status, CANARY)
    assert code == 0
    assert len(lines) == 1 and "skipped" in lines[0] and reason in lines[0]
    assert not _says_nothing_found(lines)


def test_a_partial_run_names_what_it_did_not_check() -> None:
    lines, code = report.summarize({"dependencies": [CANARY_FOUND, _clean("h11"), _skipped("urllib3")]}, 1, CANARY)
    assert code == 0
    assert lines == [
        "audit: pip-audit: partial: 1 of 2 installed packages checked, none vulnerable;"
        " NOT checked (1, no data on PyPI): urllib3"
    ]


def test_a_full_run_reports_no_known_vulnerabilities() -> None:
    lines, code = report.summarize({"dependencies": [CANARY_FOUND, _clean("h11"), _clean("urllib3"), EDITABLE]}, 1, CANARY)
    assert (lines, code) == (["audit: pip-audit: all 2 installed packages checked: no known vulnerabilities"], 0)


def test_a_vulnerable_installed_package_fails() -> None:
    h11 = {"name": "h11", "version": "0.14.0", "vulns": [{"id": "GHSA-vqfr-h8mv-ghfj", "fix_versions": ["0.16.0"]}]}
    lines, code = report.summarize({"dependencies": [CANARY_FOUND, h11, _skipped("urllib3")]}, 1, CANARY)
    assert code == 1
    assert lines[0] == "  h11 0.14.0: GHSA-vqfr-h8mv-ghfj (fixed in 0.16.0)"
    assert lines[-1].startswith("audit: FAILED: 1 package(s)")


def test_the_canary_is_a_package_not_installed_and_readable_as_installed(tmp_path: Path) -> None:
    name, version = report.write_canary(tmp_path)
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version(name)
    [found] = importlib.metadata.distributions(path=[str(tmp_path)])
    assert (found.metadata["Name"], found.version) == (name, version)
