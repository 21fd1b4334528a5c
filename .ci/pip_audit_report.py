"""The online half of .ci/audit: what a pip-audit run proved, never more.

pip-audit prints "No known vulnerabilities found" (exit 0) when PyPI's JSON API had no data for
any package (each is "skipped"), and treats a release page without a `vulnerabilities` key as
clean. So .ci/audit adds a canary, a release with published advisories that is not installed,
and trusts the run only when pip-audit reports the canary as vulnerable.

    python .ci/pip_audit_report.py canary DIR        # writes the canary's dist-info into DIR,
                                                     # prints "name version"
    python .ci/pip_audit_report.py summarize REPORT EXIT_STATUS NAME VERSION

summarize prints what was checked and exits 1 only for a vulnerability in an installed package;
every run that did not check (all or part of) the environment says so.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
from pathlib import Path
from typing import Any

# Old releases with advisories on PyPI that csbot does not install; the first one absent is used.
CANARIES = [("django", "2.2"), ("flask", "0.12"), ("jinja2", "2.10")]
EDITABLE = "distribution marked as editable"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write_canary(directory: Path) -> tuple[str, str] | None:
    """Installs (as metadata only) the first canary the environment lacks; None if it has them all."""
    for name, version in CANARIES:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info = directory / f"{name}-{version}.dist-info"
            info.mkdir(parents=True, exist_ok=True)
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
            return name, version
    return None


def summarize(report: dict[str, Any], exit_status: int, canary: tuple[str, str]) -> tuple[list[str], int]:
    """(lines to print, exit status for CI): 1 only for a vulnerable installed package."""
    name, version = canary
    if exit_status not in (0, 1):  # 1 is pip-audit's "vulnerabilities found": the canary's, at least
        return [f"audit: pip-audit: skipped: pip-audit failed (exit {exit_status})"], 0
    deps = report.get("dependencies") if isinstance(report, dict) else None
    if not isinstance(deps, list):
        return ["audit: pip-audit: skipped: its report lists no dependencies"], 0
    probe = [d for d in deps if _canonical(d.get("name", "")) == name]
    deps = [d for d in deps if _canonical(d.get("name", "")) != name and d.get("skip_reason") != EDITABLE]
    if not probe:
        return [f"audit: pip-audit: skipped: the canary {name} {version} is missing from its report"], 0
    if "skip_reason" in probe[0]:
        return [
            f"audit: pip-audit: skipped: PyPI's JSON API has no data for {name} {version}, a release with"
            f" known advisories ({probe[0]['skip_reason']}); nothing could be checked"
        ], 0
    if not probe[0].get("vulns"):
        return [
            f"audit: pip-audit: skipped: PyPI's JSON API answered for {name} {version} without its known"
            " advisories (no advisory data: a mirror or proxy?); its answers prove nothing"
        ], 0
    audited = [d for d in deps if "skip_reason" not in d]
    unaudited = sorted(d.get("name", "?") for d in deps if "skip_reason" in d)
    vulnerable = [d for d in audited if d.get("vulns")]
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            lines.append(f"  {dep['name']} {dep.get('version', '?')}: {vuln.get('id')} (fixed in {fixes})")
    if vulnerable:
        lines.append(f"audit: FAILED: {len(vulnerable)} package(s) with known vulnerabilities; raise the floors")
    elif not audited:
        lines.append(
            f"audit: pip-audit: skipped: PyPI's JSON API has no data for any of the {len(unaudited)}"
            " installed versions; nothing could be checked"
        )
    elif unaudited:
        lines.append(
            f"audit: pip-audit: partial: {len(audited)} of {len(deps)} installed packages checked, none"
            f" vulnerable; NOT checked ({len(unaudited)}, no data on PyPI): {', '.join(unaudited)}"
        )
    else:
        lines.append(f"audit: pip-audit: all {len(audited)} installed packages checked: no known vulnerabilities")
    return lines, 1 if vulnerable else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["canary"] and len(argv) == 2:
        canary = write_canary(Path(argv[1]))
        if canary is None:
            return 1
        print(*canary)
        return 0
    if argv[:1] == ["summarize"] and len(argv) == 5:
        _, report_path, status, name, version = argv
        try:
            report = json.loads(Path(report_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"audit: pip-audit: skipped: its report cannot be read ({error})")
            return 0
        lines, code = summarize(report, int(status), (name, version))
        print("\n".join(lines))
        return code
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
