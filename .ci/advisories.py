"""The offline half of .ci/audit: installed versions against the dated list in .ci/advisories.toml.

    python .ci/advisories.py [--list FILE]   # with the environment's python (the active venv)

Exit 0 when every installed package the list names is at or above each listed fix, 1 when one is
below (a finding), 2 when the list itself is unreadable. Needs no network. The same functions
check pyproject.toml's floors against the list (tests/test_dependency_floors.py).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version
except ImportError:  # outside the project's venv: pip always carries a copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]
    from pip._vendor.packaging.version import InvalidVersion, Version  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
DEFAULT_LIST = HERE / "advisories.toml"
ID = re.compile(r"^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|PYSEC-\d{4}-\d+)$")
STALE_AFTER_DAYS = 180


@dataclass(frozen=True)
class Advisory:
    package: str  # canonical name
    id: str
    fixed: Version
    summary: str
    aliases: tuple[str, ...] = ()


def parse(text: str) -> tuple[datetime.date, list[Advisory]]:
    """The review date and the advisories of an advisories.toml text; ValueError when malformed."""
    data = tomllib.loads(text)
    reviewed = data.get("reviewed")
    if not isinstance(reviewed, datetime.date) or isinstance(reviewed, datetime.datetime):
        raise ValueError("`reviewed = YYYY-MM-DD` (a TOML date): the day the list was last reviewed")
    entries = data.get("advisory")
    if not isinstance(entries, list) or not entries:
        raise ValueError("no [[advisory]] entries")
    advisories = []
    for number, entry in enumerate(entries, 1):
        where = f"advisory #{number}"
        missing = [key for key in ("package", "id", "fixed", "summary") if not str(entry.get(key, "")).strip()]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        unknown = set(entry) - {"package", "id", "fixed", "summary", "aliases"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        aliases = tuple(entry.get("aliases", ()))
        for advisory_id in (entry["id"], *aliases):
            if not ID.match(advisory_id):
                raise ValueError(f"{where}: {advisory_id!r} is not a CVE, GHSA or PYSEC id")
        try:
            fixed = Version(entry["fixed"])
        except InvalidVersion:
            raise ValueError(f"{where} ({entry['id']}): fixed = {entry['fixed']!r} is not a version") from None
        if "\n" in entry["summary"]:
            raise ValueError(f"{where} ({entry['id']}): the summary must be one line")
        advisories.append(
            Advisory(canonicalize_name(entry["package"]), entry["id"], fixed, entry["summary"].strip(), aliases)
        )
    return reviewed, advisories


def load(path: Path = DEFAULT_LIST) -> tuple[datetime.date, list[Advisory]]:
    return parse(path.read_text(encoding="utf-8"))


def requirements(pyproject: dict[str, Any]) -> Iterator[tuple[str, Requirement]]:
    """Every requirement pyproject.toml states, with where it stands."""
    project = pyproject.get("project", {})
    for text in project.get("dependencies", []):
        yield "dependencies", Requirement(text)
    for extra, texts in project.get("optional-dependencies", {}).items():
        for text in texts:
            yield f"optional-dependencies.{extra}", Requirement(text)
    for text in pyproject.get("build-system", {}).get("requires", []):
        yield "build-system.requires", Requirement(text)


def floor(specifier: SpecifierSet) -> Version | None:
    """The lowest version a specifier can allow (None: no lower bound)."""
    bounds = []
    for spec in specifier:
        if spec.operator in (">=", ">", "~=", "==", "==="):
            try:
                bounds.append(Version(spec.version.removesuffix(".*")))
            except InvalidVersion:
                continue
    return max(bounds, default=None)


def floor_problems(pyproject: dict[str, Any], advisories: list[Advisory]) -> list[str]:
    """pyproject.toml requirements that allow a release below a listed fix, or that are missing."""
    stated: dict[str, list[tuple[str, Requirement]]] = {}
    for where, requirement in requirements(pyproject):
        stated.setdefault(canonicalize_name(requirement.name), []).append((where, requirement))
    problems = []
    for advisory in advisories:
        if advisory.package not in stated:
            problems.append(
                f"{advisory.package}: {advisory.id} is listed but pyproject.toml does not constrain"
                f" {advisory.package}; add `{advisory.package}>={advisory.fixed}` or drop the entry"
            )
        for where, requirement in stated.get(advisory.package, []):
            lowest = floor(requirement.specifier)
            if lowest is None or lowest < advisory.fixed:
                problems.append(
                    f"{where}: {requirement} allows {advisory.package} below {advisory.fixed},"
                    f" the fix for {advisory.id}"
                )
    return problems


def installed_problems(
    advisories: list[Advisory], version_of: Callable[[str], str] = importlib.metadata.version
) -> tuple[list[str], list[str], set[str]]:
    """(findings, packages not checked with the reason, packages checked) for the installed versions."""
    findings: list[str] = []
    unchecked: dict[str, str] = {}
    checked: set[str] = set()
    for advisory in advisories:
        try:
            installed = Version(version_of(advisory.package))
        except importlib.metadata.PackageNotFoundError:
            unchecked[advisory.package] = "not installed"
            continue
        except InvalidVersion:
            unchecked[advisory.package] = "installed version unreadable"
            continue
        checked.add(advisory.package)
        if installed < advisory.fixed:
            findings.append(
                f"{advisory.package} {installed} < {advisory.fixed}: {advisory.id} ({advisory.summary})"
            )
    return findings, [f"{name} ({why})" for name, why in sorted(unchecked.items())], checked


def main(argv: list[str] | None = None, today: datetime.date | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=Path, default=DEFAULT_LIST, help="the advisory list (TOML)")
    args = parser.parse_args(argv)
    try:
        reviewed, advisories = load(args.list)
    except (OSError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        print(f"audit: FAILED: the advisory list {args.list} cannot be read: {error}")
        return 2
    findings, unchecked, checked = installed_problems(advisories)
    source = f"{args.list.name} (reviewed {reviewed}, {len(advisories)} advisories)"
    for finding in findings:
        print(f"  {finding}")
    if findings:
        print(f"audit: FAILED: {len(findings)} installed version(s) below a fix in {source}; upgrade them")
    elif checked:
        print(f"audit: offline: {len(checked)} installed package(s) at or above every fix in {source}")
    else:
        print(f"audit: offline: skipped: none of the packages in {source} is installed here")
    if unchecked:
        print(f"audit: offline: not checked: {', '.join(unchecked)}")
    age = ((today or datetime.date.today()) - reviewed).days
    if age > STALE_AFTER_DAYS:
        print(f"audit: warning: {args.list.name} was last reviewed {age} days ago; review it (see its header)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
