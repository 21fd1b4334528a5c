"""The version floors in pyproject.toml stay at or above every fix in .ci/advisories.toml.

The list is the offline record of the advisories behind the floors (.ci/audit also checks the
installed versions against it). A floor below a listed fix, a listed package pyproject.toml does
not constrain, a CVE pyproject.toml names but the list lacks, or a list without its review date
fails here.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from pathlib import Path

import pytest

from tests.support.ci_scripts import load

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
advisories = load("advisories")

SYNTHETIC_LIST = """
reviewed = 2026-11-30

[[advisory]]
package = "urllib3"
id = "CVE-2025-50181"
fixed = "2.5.0"
summary = "Redirects are still followed when disabled on the PoolManager"
"""


def _pyproject(dependencies: list[str], test: list[str] | None = None, build: list[str] | None = None) -> dict:
    return tomllib.loads(
        f"[build-system]\nrequires = {build or []!r}\n"
        f"[project]\nname = 'x'\ndependencies = {dependencies!r}\n"
        f"[project.optional-dependencies]\ntest = {test or []!r}\n"
    )


def test_the_advisory_list_is_dated_and_well_formed() -> None:
    reviewed, listed = advisories.load()
    assert isinstance(reviewed, datetime.date)
    assert reviewed <= datetime.date.today()
    assert listed
    assert len({(a.package, a.id) for a in listed}) == len(listed), "an advisory is listed twice"


def test_every_floor_in_pyproject_is_at_or_above_every_listed_fix() -> None:
    _, listed = advisories.load()
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert advisories.floor_problems(pyproject, listed) == []


def test_every_cve_pyproject_names_is_in_the_list() -> None:
    _, listed = advisories.load()
    named = set(re.findall(r"CVE-\d{4}-\d{4,}", PYPROJECT.read_text(encoding="utf-8")))
    assert named
    assert named - {a.id for a in listed} - {alias for a in listed for alias in a.aliases} == set()


def test_a_lowered_floor_fails() -> None:
    _, listed = advisories.parse(SYNTHETIC_LIST)
    assert advisories.floor_problems(_pyproject(["urllib3>=2.5.0"]), listed) == []
    assert advisories.floor_problems(_pyproject(["urllib3>2.5.0,<3"]), listed) == []
    lowered = advisories.floor_problems(_pyproject(["urllib3>=2.4.0"]), listed)
    assert lowered == ["dependencies: urllib3>=2.4.0 allows urllib3 below 2.5.0, the fix for CVE-2025-50181"]


def test_lowering_a_floor_of_the_real_pyproject_fails() -> None:
    _, listed = advisories.load()
    text = PYPROJECT.read_text(encoding="utf-8")
    assert '"h11>=0.16.0"' in text
    lowered = tomllib.loads(text.replace('"h11>=0.16.0"', '"h11>=0.14.0"'))  # in memory only
    assert advisories.floor_problems(lowered, listed) == [
        "dependencies: h11>=0.14.0 allows h11 below 0.16.0, the fix for CVE-2025-43859"
    ]


@pytest.mark.parametrize(
    ("dependencies", "test", "build"),
    [
        (["urllib3"], [], []),  # no floor at all
        (["urllib3<3"], [], []),  # only a ceiling
        (["urllib3~=2.4"], [], []),
        (["urllib3==2.4.*"], [], []),
        (["urllib3>=2.5.0"], ["urllib3>=2.0"], []),  # an extra lowers it
        (["urllib3>=2.5.0"], [], ["urllib3>=1.26"]),  # so does the build
    ],
)
def test_a_floor_below_the_fix_anywhere_in_pyproject_fails(dependencies, test, build) -> None:
    _, listed = advisories.parse(SYNTHETIC_LIST)
    problems = advisories.floor_problems(_pyproject(dependencies, test, build), listed)
    assert len(problems) == 1 and "CVE-2025-50181" in problems[0]


def test_an_advisory_for_a_package_pyproject_does_not_constrain_fails() -> None:
    _, listed = advisories.parse(SYNTHETIC_LIST)
    problems = advisories.floor_problems(_pyproject(["requests>=2.32.4"]), listed)
    assert len(problems) == 1 and "does not constrain urllib3" in problems[0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("reviewed = 2026-11-30\n", ""), "reviewed"),
        (lambda text: text.replace("reviewed = 2026-11-30", 'reviewed = "recently"'), "reviewed"),
        (lambda text: text.replace('id = "CVE-2025-50181"', 'id = "see urllib3 notes"'), "not a CVE"),
        (lambda text: text.replace('fixed = "2.5.0"', 'fixed = "soon"'), "not a version"),
        (lambda text: text.replace('"Redirects are still followed when disabled on the PoolManager"', '"""two\nlines"""'), "one line"),
        (lambda text: text.replace('fixed = "2.5.0"', ""), "missing fixed"),
    ],
)
def test_a_malformed_list_is_refused(edit, message) -> None:
    with pytest.raises(ValueError) as error:
        advisories.parse(edit(SYNTHETIC_LIST))
    assert message in str(error.value)


def test_an_installed_version_below_a_fix_is_a_finding() -> None:
    _, listed = advisories.parse(SYNTHETIC_LIST)
    findings, unchecked, checked = advisories.installed_problems(listed, version_of=lambda name: "2.4.0")
    assert findings == [f"urllib3 2.4.0 < 2.5.0: CVE-2025-50181 ({listed[0].summary})"] and checked == {"urllib3"}
    findings, unchecked, checked = advisories.installed_problems(listed, version_of=lambda name: "2.5.0")
    assert findings == [] and unchecked == []


def test_the_installed_versions_are_at_or_above_every_listed_fix() -> None:
    _, listed = advisories.load()
    findings, _, checked = advisories.installed_problems(listed)
    assert findings == []
    assert "urllib3" in checked


def test_the_audit_script_fails_only_on_a_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    below = tmp_path / "below.toml"
    below.write_text(SYNTHETIC_LIST.replace('"urllib3"', '"pytest"').replace('"2.5.0"', '"9999"'))
    assert advisories.main(["--list", str(below)]) == 1
    assert "audit: FAILED" in capsys.readouterr().out
    fine = tmp_path / "fine.toml"
    fine.write_text(SYNTHETIC_LIST.replace('"urllib3"', '"pytest"').replace('"2.5.0"', '"1.0"'))
    assert advisories.main(["--list", str(fine)], today=datetime.date(2026, 12, 1)) == 0
    assert "1 installed package(s) at or above every fix" in capsys.readouterr().out
    assert advisories.main(["--list", str(fine)], today=datetime.date(2027, 12, 1)) == 0
    assert "last reviewed 366 days ago" in capsys.readouterr().out
    broken = tmp_path / "broken.toml"
    broken.write_text("reviewed = ")
    assert advisories.main(["--list", str(broken)]) == 2
