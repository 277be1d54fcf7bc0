"""`ladder demo` against the real processes: a year of involvement through the webhooks."""

from __future__ import annotations

from datetime import date

import pytest
import requests
from playwright.sync_api import expect

from services.ledger.measures import last_twelve_months
from shared import areas
from tests.e2e.conftest import Stack
from tests.support.browser import chromium
from tests.support.databases import LOCAL
from tests.support.screenshot import run_demo


# `make run` then `make demo`, as the README has them: on SQLite, with nothing configured.
# The browser tests read the dashboard on the database docker-compose deploys.
@pytest.mark.browser
@pytest.mark.parametrize("backend", LOCAL)
def test_the_demo_fills_a_year_through_the_webhooks_and_the_dashboard_shows_it(
        stack: Stack) -> None:
    printed = run_demo(stack, "--scale", "0.1", "--seed", "11")
    assert "each answered 202" in printed and "the ledger holds all" in printed
    token = printed.strip().splitlines()[-1]
    entries = stack.entries()
    assert {e["area"] for e in entries} == set(areas.names())
    months = {e["event"]["time"][:7] for e in entries}
    assert len(months) >= 9, "dated across the year by occurred_at, not all today"
    assert {e["event"]["type"].rsplit(".", 1)[-1] for e in entries} >= {"recorded"}
    with chromium() as browser:
        page = browser.new_page()
        page.goto(stack.url("ledger") + "/dashboard")
        page.fill("#token", token)
        page.click("form button[type=submit]")
        # A board reads rounded figures: each card shows what the API shows the same
        # token for the dashboard's default range, and together they show the year.
        start, end = last_twelve_months(date.today())
        rows = requests.get(stack.url("ledger") + "/v1/metrics", headers={
            "Authorization": f"Bearer {token}"}, params={
            "group_by": "area", "period": "month", "from": start.isoformat(),
            "to": end.isoformat()}, timeout=10).json()["rows"]
        shown = {row["area"]: row["involvements"] for row in rows}
        for area in areas.names():
            figure = page.locator(f'li.card[data-area="{area}"] dd[data-figure="involvements"]')
            expect(figure).to_have_text(f"{shown[area]:,}")
        assert sum(shown.values()) > 0
        expect(page.locator('[data-check="passed"]')).to_be_visible()
    with pytest.raises(RuntimeError, match="already loaded"):
        run_demo(stack, "--scale", "0.1", "--seed", "11")
