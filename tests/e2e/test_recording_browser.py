"""The recording pages in headless Chromium, against an area's service under gunicorn:
a member of staff records a vacancy and a citizen's part in it from the keyboard, sees
the step before saving, and every page meets WCAG 2.2 AA as axe-core checks it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from shared.area.models import ApiToken
from shared.auth import create_token
from shared.config import load
from shared.db import Database
from tests.e2e.test_dashboard_browser import _violations
from tests.support.browser import chromium
from tests.support.databases import DEPLOYED, migrated
from tests.support.stack import Stack

pytestmark = pytest.mark.browser


@dataclass
class Served:
    url: str
    token: str


# On the database docker-compose deploys: the pages in a browser do not hang on it, and
# what they store is tested on both by tests/integration/test_recording_pages.py.
@pytest.fixture(scope="module", params=DEPLOYED)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    """Recruitment's service under gunicorn, with a clerk's write token."""
    directory = tmp_path_factory.mktemp("recording")
    with migrated(str(request.param), directory, "recruitment", "recruitment") as url:
        stack = Stack(directory / "stack", {"recruitment": url})
        config = load("recruitment", stack.env)
        db = Database(url)
        token = create_token(db, ApiToken, config["TOKEN_PEPPER"], "clerk",
                             ["recruitment:write"])
        try:
            stack.start("recruitment")
            yield Served(stack.url("recruitment"), token)
        finally:
            stack.kill_all()
            db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def test_a_clerk_records_from_the_keyboard_and_every_page_meets_wcag_22_aa(
        served: Served, browser: Any) -> None:
    page = browser.new_context().new_page()
    problems: list[str] = []
    # The form sent with mistakes is answered 422, which the console reports: not a
    # problem of the page.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error"
            and "status of 422" not in m.text else None)
    page.goto(f"{served.url}/record")
    expect(page.locator("h1")).to_have_text("Sign in to record recruitment")
    pages = {"sign-in": _violations(page)}
    page.fill("#token", served.token)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Record a vacancy")
    pages["home"] = _violations(page)

    # A mistake first: the error summary names the fields, and links to them.
    page.click("form[novalidate] button[type=submit]")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator('.error-summary a[href="#field-role"]')).to_be_visible()
    pages["errors"] = _violations(page)

    # Then from the keyboard: Tab goes through every box in the page's order, and the
    # clerk types into each.
    names = page.eval_on_selector_all(
        "form[novalidate] input:not([type=hidden]), form[novalidate] select",
        "elements => elements.map(e => e.name)")
    values = {"org_unit": "east-home-care", "role": "Support worker", "opened_on-day": "1",
              "opened_on-month": "3", "opened_on-year": "2026"}
    page.focus(f'[name="{names[0]}"]')
    for name in names:
        assert page.evaluate("document.activeElement.name") == name
        if name in values:
            page.keyboard.press("Control+A")
            page.keyboard.type(values[name])
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Record the vacancy"
    page.locator('button:has-text("Record the vacancy")').press("Enter")
    expect(page.locator(".done")).to_contain_text("Recorded the vacancy")
    expect(page.locator("h1")).to_contain_text("Vacancy ")
    pages["activity"] = _violations(page)

    page.fill("#field-citizen_ref", "CIT-0042")
    page.select_option("#field-stage", "interview_panel")
    page.select_option("#field-role", "panel_member")
    page.fill("#field-hours", "3.5")
    page.select_option("#field-recognition", "payment")
    page.select_option("#field-decision_power", "equal_vote")
    page.check('input[name="from_start"][value="yes"]')
    page.check('input[name="feedback_given"][value="yes"]')
    page.click('button:has-text("Check the step")')
    expect(page.locator(".checked h3")).to_have_text("Step 7: co-production")
    pages["checked"] = _violations(page)
    page.click('button:has-text("Save this involvement")')
    expect(page.locator(".done")).to_contain_text("Recorded: step 7, co-production")
    expect(page.locator("#involved-caption + thead + tbody tr")).to_have_count(1)
    assert pages == {name: [] for name in pages}
    assert problems == [], "no page errors, and nothing the Content-Security-Policy blocked"
