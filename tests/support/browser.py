"""A real browser for the staff desk's tests: Debian's chromium driven by Playwright for Python
(Playwright's own browser download is not used), axe-core from npm (tests/desk/package.json,
installed by `.ci/run` with `npm ci --prefix tests/desk`) for the accessibility check, and a
screenshot of each page in test-artifacts/desk/ (gitignored).

Without chromium, Playwright or axe-core the browser tests skip with the reason, except in CI
(CI=true), where that is a failure, as for the PostgreSQL tests (tests/support/databases.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import IN_CI

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "desk" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "desk"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BLOCKING_IMPACTS = ("serious", "critical")


def browser_problem() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not CHROMIUM.is_file():
        return f"chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does it)"
    if not AXE.is_file():
        return f"axe-core is not installed at {AXE} (npm ci --prefix tests/desk; .ci/run does it)"
    return None


def require_browser() -> None:
    problem = browser_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(problem + ": CI must run the browser tests", pytrace=False)
    pytest.skip(problem)


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
