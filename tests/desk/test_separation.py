"""The desk is its own application: the public service neither mounts nor imports it, and the
browser tests' skip-or-fail rule is the PostgreSQL tests' rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.web.app import create_app
from tests.support import browser

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_public_service_has_no_staff_route(runtime):
    app = create_app(runtime, background=False)
    paths = [getattr(route, "path", "") for route in app.routes]
    assert paths and not any(path.startswith("/staff") for path in paths)


def test_nothing_in_the_public_service_imports_the_desk():
    importers = []
    for path in (ROOT / "bot").rglob("*.py"):
        if path.is_relative_to(ROOT / "bot" / "desk") or path.name in ("desk.py", "staff_users.py", "cli.py"):
            continue  # the desk itself, and the commands that start or manage it
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            if any(name == "bot.desk" or name.startswith("bot.desk.") for name in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []


@pytest.mark.parametrize("in_ci", [False, True])
def test_a_missing_browser_skips_outside_ci_and_fails_in_ci(monkeypatch, tmp_path, in_ci):
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(browser, "IN_CI", in_ci)
    expected = pytest.fail.Exception if in_ci else pytest.skip.Exception
    with pytest.raises(expected, match="chromium is not installed"):
        browser.require_browser()


def test_missing_axe_core_is_named(monkeypatch, tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("")
    monkeypatch.setattr(browser, "CHROMIUM", chromium)
    monkeypatch.setattr(browser, "AXE", tmp_path / "axe.min.js")
    problem = browser.browser_problem()
    assert problem is not None and "axe-core is not installed" in problem and "npm ci --prefix tests/desk" in problem
