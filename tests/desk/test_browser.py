"""The staff desk in a real browser: `csbot desk` runs as a process on a SQLite database loaded
with the example extract, and Debian's chromium (driven by Playwright) signs in as a Manhattan
clerk and as a supervisor. Every page is checked with axe-core (no serious or critical
violation) and kept as a screenshot in test-artifacts/desk/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.store.database import make_engine, make_sessionmaker
from tests.desk.conftest import BKN_REF, HOSTILE, MAN_REF, PASSWORD, seed_work
from tests.support.browser import axe_violations, describe, launch, require_browser, screenshot
from tests.support.databases import EXAMPLE_EXTRACT
from tests.support.desk_process import running_desk
from tests.support.serve_process import ServeProcess, csbot_env, run_csbot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def desk_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    require_browser()
    folder: Path = tmp_path_factory.mktemp("desk")
    env = csbot_env(f"sqlite:///{folder / 'csbot.db'}")
    assert run_csbot(env, "import", str(EXAMPLE_EXTRACT), "--quiet").returncode == 0
    for args in (("clerk", "--office", "MAN"), ("boss", "--all-offices", "--supervisor")):
        added = run_csbot(env, "staff-users", "add", *args, input_text=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    engine = make_engine(env["CSBOT_DATABASE_URL"])
    try:  # seed_work needs only `sessions`
        seed_work(SimpleNamespace(sessions=make_sessionmaker(engine)), dt.datetime.now(dt.UTC).replace(microsecond=0))
    finally:
        engine.dispose()
    with running_desk(env) as desk:
        yield desk


@pytest.fixture(scope="module")
def browser(desk_process: ServeProcess) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, desk_process: ServeProcess) -> Iterator[Any]:
    """A fresh browser context (no cookies). CSP is bypassed so that axe-core can be injected,
    and so that the escaping test proves escaping, not the policy, keeps script out."""
    contexts = []

    def make() -> Any:
        context = browser.new_context(base_url=desk_process.url, bypass_csp=True, accept_downloads=True,
                                      viewport={"width": 1280, "height": 800})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def checked(page: Any, name: str) -> None:
    """axe-core finds nothing serious or critical; the page is kept as a screenshot."""
    violations = axe_violations(page)
    screenshot(page, name)
    assert violations == [], f"{name}: {describe(violations)}"


def sign_in(page: Any, username: str, *, check: bool = False) -> None:
    page.goto("/staff/sign-in")
    if check:
        checked(page, "sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/messages")


def test_a_clerk_signs_in_sees_their_office_answers_and_watches_the_status_change(new_page):
    page = new_page()
    sign_in(page, "clerk", check=True)
    table = page.get_by_role("table")
    assert table.get_by_role("link", name=MAN_REF).is_visible()
    assert table.get_by_role("link", name=BKN_REF).count() == 0  # Brooklyn's
    checked(page, "office-messages")

    table.get_by_role("link", name=MAN_REF).click()
    assert page.locator("#message-status").inner_text() == "mailed"
    checked(page, "office-message")

    page.get_by_label("Your answer").fill("Votre paiement a été envoyé le 3 décembre; il arrive sous 2 jours ouvrables.")
    page.get_by_role("button", name="Send the answer").click()
    page.wait_for_url(f"**/staff/messages/{MAN_REF}")
    assert page.locator("#message-status").inner_text() == "answered"
    assert "the parent is told by sms" in page.get_by_role("status").inner_text()
    assert "envoyé le 3 décembre" in page.locator(".from-office .body").inner_text()
    checked(page, "office-message-answered")

    page.get_by_role("navigation").get_by_role("link", name="Office messages").click()
    page.get_by_label("Status").select_option("answered")
    page.get_by_role("button", name="Show").click()
    assert page.get_by_role("table").get_by_role("link", name=MAN_REF).is_visible()


def test_a_parents_html_shows_as_text_and_runs_nothing(new_page):
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "clerk")
    page.goto(f"/staff/messages/{MAN_REF}")
    shown = page.locator("#parent-message")
    assert shown.inner_text() == HOSTILE  # literally, accents included
    assert shown.locator("script, img").count() == 0
    assert page.locator("main script, main img").count() == 0
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert dialogs == []


def test_a_supervisor_unlocks_a_parent_and_searches_the_audit_trail(new_page):
    page = new_page()
    sign_in(page, "boss")
    page.get_by_label("Status").select_option("all")
    page.get_by_role("button", name="Show").click()
    links = page.get_by_role("table").get_by_role("link")
    assert {links.nth(i).inner_text() for i in range(links.count())} >= {MAN_REF, BKN_REF}  # every office
    checked(page, "office-messages-supervisor")  # the README's screenshot (docs/desk-office-messages.png)

    page.get_by_role("navigation").get_by_role("link", name="Lockouts").click()
    assert page.get_by_role("cell", name="P-1002", exact=True).is_visible()
    checked(page, "lockouts")
    page.get_by_role("button", name="Unlock P-1002").click()
    page.wait_for_url("**/staff/lockouts")
    assert "Unlocked P-1002" in page.get_by_role("status").inner_text()
    assert page.get_by_role("cell", name="P-1002", exact=True).count() == 0

    page.get_by_role("navigation").get_by_role("link", name="Audit trail").click()
    checked(page, "audit-search")
    page.get_by_label("Person id").fill("P-1002")
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("table").locator("tbody tr")
    assert "desk unlock" in rows.first.inner_text() and "boss" in rows.first.inner_text()
    checked(page, "audit-results")


def test_pin_requests_export_and_mark_mailed(new_page):
    page = new_page()
    sign_in(page, "clerk")
    page.get_by_role("navigation").get_by_role("link", name="PIN re-mail requests").click()
    checked(page, "pin-requests")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export the open requests as CSV").click()
    exported = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert exported.splitlines()[0].startswith("request_id,person_id,name,") and "Maria Lopez" in exported
    assert "Aminata Diallo" not in exported  # Brooklyn's
    page.get_by_label("Request", exact=False).first.check()
    page.get_by_role("button", name="Mark the selected requests mailed").click()
    assert "Marked 1 request mailed." in page.get_by_role("status").inner_text()


def test_import_runs_and_the_keyboard_path(new_page):
    page = new_page()
    sign_in(page, "clerk")
    page.get_by_role("navigation").get_by_role("link", name="Import runs").click()
    assert page.get_by_role("heading", name="Import runs").is_visible()
    checked(page, "import-runs")
    page.keyboard.press("Tab")  # the first stop is the skip link
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_clerk_cannot_open_the_audit_page(new_page):
    page = new_page()
    sign_in(page, "clerk")
    assert page.get_by_role("navigation").get_by_role("link", name="Audit trail").count() == 0
    response = page.goto("/staff/audit?person=P-1001")
    assert response.status == 403 and page.get_by_role("heading", name="Supervisors only").is_visible()
    checked(page, "refused")


def test_the_desks_log_never_holds_a_password(desk_process, new_page):
    page = new_page()
    page.goto("/staff/sign-in")
    page.get_by_label("Username").fill("clerk")
    page.get_by_label("Password").fill("a wrong password typed here")
    page.get_by_role("button", name="Sign in").click()
    assert "Sign-in failed." in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Password").input_value() == ""  # not sent back either
    checked(page, "sign-in-refused")
    log = desk_process.log_text()
    assert "Uvicorn running" in log
    assert PASSWORD not in log and "a wrong password typed here" not in log
