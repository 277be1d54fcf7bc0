"""The dashboard in a real browser: headless Chromium (Debian's package) driven by
Playwright, against the ledger under gunicorn as `make run` starts it, holding the
worked example of docs/metrics.md.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from odf.opendocument import load as load_ods
from odf.table import Table, TableRow
from playwright.sync_api import Page, expect

from services.ledger.domain import AREAS
from services.ledger.models import ApiToken
from services.ledger.signing import load_signer
from shared.auth import create_token, revoke_token
from shared.config import load
from shared.db import Database
from tests.support import appending
from tests.support.browser import chromium
from tests.support.databases import DEPLOYED, migrated
from tests.support.scenario import events as scenario
from tests.support.stack import Stack

pytestmark = pytest.mark.browser
YEAR = "from=2026-01-01&to=2026-12-31&period=quarter"


@dataclass
class Served:
    url: str
    db: Database
    admin: str
    auditor: str
    pepper: str
    auditor_name: str = ""


# On the database docker-compose deploys (PostgreSQL where there is one): the pages in a
# browser do not hang on it, and what they read is tested on both by
# tests/integration/test_dashboard*.py.
@pytest.fixture(scope="module", params=DEPLOYED)
def ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    """The ledger under gunicorn, holding the worked example, with an admin: one for the
    module's tests, which only read it and sign in and out."""
    directory = tmp_path_factory.mktemp("dashboard")
    with migrated(str(request.param), directory, "ledger", "ledger") as url:
        # The subscriber portal may subscribe a system on this machine.
        stack = Stack(directory / "stack", {"ledger": url},
                      LADDER_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8")
        config = load("ledger", stack.env)
        db = Database(url)
        # The same key file the ledger process will sign with.
        result = appending.append(db, scenario(), load_signer(config))
        assert result.appended == 26
        admin = create_token(db, ApiToken, config["TOKEN_PEPPER"], "ops", ["ledger:admin"])
        try:
            stack.start("ledger")
            yield Served(stack.url("ledger"), db, admin, "", config["TOKEN_PEPPER"])
        finally:
            stack.kill_all()
            db.dispose()


@pytest.fixture
def served(ledger: Served) -> Served:
    """The module's ledger, with an auditor of the test's own (a test may revoke it)."""
    name = f"board-{uuid.uuid4().hex[:8]}"
    auditor = create_token(ledger.db, ApiToken, ledger.pepper, name, ["ledger:read"])
    return replace(ledger, auditor=auditor, auditor_name=name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, for the module (each test opens its own pages, each page its own
    context); fails with what to install when it is missing."""
    with chromium() as browser:
        yield browser


def sign_in(page: Page, base: str, token: str, path: str = f"/dashboard?{YEAR}") -> None:
    page.goto(base + path)
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in\?next=/dashboard"))
    page.fill("#token", token)
    page.click("form button[type=submit]")
    expect(page.locator("h1")).not_to_contain_text("Sign in")


def card(page: Page, area: str, figure: str) -> Any:
    return page.locator(f'li.card[data-area="{area}"] dd[data-figure="{figure}"]')


def headline(page: Page, figure: str) -> Any:
    return page.locator(f'main dd[data-figure="{figure}"]')


def test_an_admin_signs_in_reads_the_worked_example_filters_and_signs_out(
        served: Served, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, served.url, served.admin)
    [cookie] = context.cookies()
    assert (cookie["name"], cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (
        "ladder_dashboard", True, True, "Lax")
    for area, coverage, index in (("recruitment", "100.0%", "68.6"),
                                  ("training", "66.7%", "55.6"),
                                  ("inspection", "100.0%", "63.3")):
        expect(card(page, area, "coverage")).to_have_text(coverage)
        expect(card(page, area, "index")).to_have_text(index)
    expect(page.locator('[data-check="passed"]')).to_be_visible()

    page.click('nav >> text="Recruitment"')
    expect(headline(page, "index")).to_have_text("68.6")
    expect(headline(page, "involvements")).to_have_text("6")
    page.select_option('select[name="org_unit"]', "east")
    page.click('form.filters button[type="submit"]')
    expect(page).to_have_url(f"{served.url}/dashboard/areas/recruitment?org_unit=east"
                             "&period=quarter&from=2026-01-01&to=2026-12-31")
    expect(headline(page, "index")).to_have_text("88.3")
    expect(headline(page, "involvements")).to_have_text("3")
    page.select_option('select[name="period"]', "month")
    page.click('form.filters button[type="submit"]')
    expect(page.locator("#trend-caption + thead + tbody tr")).to_have_count(12)

    copied = context.cookies()
    page.click('button:has-text("Sign out")')
    expect(page.locator('[role="status"]')).to_have_text("You have signed out.")
    page.goto(f"{served.url}/dashboard?{YEAR}")
    expect(page.locator("h1")).to_have_text("Sign in to the auditor's dashboard")
    thief = browser.new_context()
    thief.add_cookies(copied)
    stolen = thief.new_page()
    stolen.goto(f"{served.url}/dashboard")
    expect(stolen.locator("h1")).to_have_text("Sign in to the auditor's dashboard")


def test_an_auditor_sees_the_apis_rounded_figures_and_loses_access_when_revoked(
        served: Served, browser: Any) -> None:
    page = browser.new_page()
    sign_in(page, served.url, served.auditor)
    [api] = [row for row in requests.get(
        f"{served.url}/v1/metrics", headers={"Authorization": f"Bearer {served.auditor}"},
        params={"group_by": "area", "period": "quarter", "from": "2026-01-01",
                "to": "2026-12-31"}, timeout=10).json()["rows"] if row["area"] == "recruitment"]
    assert api["involvements"] % 5 == 0 and api["citizens"] % 5 == 0
    expect(card(page, "recruitment", "involvements")).to_have_text(str(api["involvements"]))
    expect(card(page, "recruitment", "citizens")).to_have_text(str(api["citizens"]))
    # Coverage and the index rest on 4 activities, rounded to 0 or 5: never shown.
    for name in ("coverage", "index"):
        expect(card(page, "recruitment", name)).to_have_text(
            "suppressed" if name in api["suppressed"] else "–")
    revoke_token(served.db, ApiToken, name=served.auditor_name)
    page.reload()
    expect(page.locator("h1")).to_have_text("Sign in to the auditor's dashboard")


def test_the_dashboard_works_from_the_keyboard_and_prints_as_a_report(
        served: Served, browser: Any) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(page, served.url, served.admin, f"/dashboard/areas/training?{YEAR}")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    # The link's navigation moves where the next Tab starts from; on a busy machine it
    # lands after the key press returns. It ends with <main> (tabindex -1) focused.
    expect(page).to_have_url(re.compile("#main$"))
    expect(page.locator("main#main")).to_be_focused()
    # Past the navigation: the next stop is the first filter, the unit.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "org_unit"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "period"
    assert page.evaluate("document.activeElement.value") == "quarter"
    page.keyboard.press("ArrowDown")
    for _ in range(12):  # through from and to (a stop for each part of a date) to Apply
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Apply":
            break
    assert page.evaluate("document.activeElement.textContent") == "Apply"
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{served.url}/dashboard/areas/training?org_unit=&period=year"
                             "&from=2026-01-01&to=2026-12-31")

    charts = page.locator('svg.chart[role="img"]')
    assert charts.count() == 4  # the ladder, the trend, hours, the units compared
    assert page.locator("figure + div.table table").count() == page.locator("figure").count()
    for n in range(charts.count()):
        assert charts.nth(n).locator("title").first.text_content()

    page.emulate_media(media="print")
    for hidden in ('nav[aria-label="Areas"]', "form.filters", 'button:has-text("Sign out")'):
        expect(page.locator(hidden)).to_be_hidden()
    for links in page.locator("p.downloads").all():  # a printed page has nothing to click
        expect(links).to_be_hidden()
    expect(charts.first).to_be_visible()
    expect(page.locator("footer.printed")).to_be_visible()
    assert problems == [], "no page errors, and nothing the Content-Security-Policy blocked"


# WCAG 2.0, 2.1 and 2.2, levels A and AA: the rules axe-core tags with them.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def _violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 AA violations of the page as it stands: rule, then where."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA},
                                       "resultTypes": ["violations"]})
    return [f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in results.response["violations"]]


def test_every_page_meets_wcag_22_aa_as_axe_core_checks_it(
        served: Served, browser: Any) -> None:
    """Every kind of page the dashboard has, as an auditor and as an admin reads it:
    signing in, all areas, each area (with a unit, by month, where most months are
    hidden), the page of methods, the error pages, the entries behind a figure, and
    the subscriber portal."""
    page = browser.new_context().new_page()
    page.goto(f"{served.url}/dashboard/sign-in")
    pages = {"sign-in": _violations(page)}
    sign_in(page, served.url, served.auditor)
    for path in (f"/dashboard?{YEAR}", "/dashboard/areas/recruitment?org_unit=east&"
                 "period=month&from=2026-01-01&to=2026-12-31", "/dashboard/methods",
                 *(f"/dashboard/areas/{area}?{YEAR}" for area in AREAS),
                 "/dashboard/areas/nowhere", "/dashboard?period=decade"):
        page.goto(served.url + path)
        pages[path] = _violations(page)
    expect(page.locator("h1")).to_contain_text("422")
    admin = browser.new_context().new_page()
    sign_in(admin, served.url, served.admin, "/dashboard/areas/training")
    pages["admin"] = _violations(admin)
    admin.goto(f"{served.url}/dashboard/areas/recruitment/entries?{YEAR}")
    expect(admin.locator("h1")).to_contain_text("the entries behind the figures")
    pages["entries"] = _violations(admin)
    admin.goto(f"{served.url}/dashboard/subscriptions")
    pages["webhooks out"] = _violations(admin)
    admin.fill('input[name="url"]', "http://169.254.169.254/")
    admin.click('form.subscribe button[type="submit"]')
    expect(admin.locator(".problem")).to_contain_text("link-local")
    pages["webhooks out, refused"] = _violations(admin)
    assert pages == {name: [] for name in pages}


def test_tables_download_and_the_report_prints_from_the_browser(
        served: Served, browser: Any, tmp_path: Path) -> None:
    """A reader's browser saves a table as CSV and as ODS, and the period report as PDF;
    each file is read back: the CSV and the spreadsheet hold the page's table, and the
    report's first page, rendered to an image, is not blank."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, served.url, served.admin, f"/dashboard/areas/recruitment?{YEAR}")
    shown = [cell.strip() for cell in page.locator("#trend-caption + thead th").all_inner_texts()]

    def save(link: Any) -> Path:
        with page.expect_download() as started:
            link.click()
        download = started.value
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        return target

    trend = page.locator('section[aria-labelledby="trend"] p.downloads')
    csv_file = save(trend.locator('a:has-text("CSV")'))
    assert csv_file.name == "ladder-recruitment-trend-2026-01-01-to-2026-12-31.csv"
    rows = list(csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8"), newline="")))
    assert [h.removesuffix(" (%)") for h in rows[0]] == shown
    assert rows[-1][0] == "Whole range" and rows[-1][-1] == "68.6"
    ods_file = save(trend.locator('a:has-text("ODS spreadsheet")'))
    sheets = load_ods(str(ods_file)).spreadsheet.getElementsByType(Table)
    assert [s.getAttribute("name") for s in sheets] == ["Cover", "Trend"]
    assert str(sheets[1].getElementsByType(TableRow)[1]) == "".join(rows[0])

    page.goto(f"{served.url}/dashboard?{YEAR}")
    report = save(page.locator('p.downloads a:has-text("PDF")'))
    assert report.read_bytes().startswith(b"%PDF-")
    document = pdfium.PdfDocument(str(report))
    assert len(document) > 3
    image = document[0].render(scale=1).to_pil().convert("L")
    # The histogram of grey levels: how many pixels are darker than light grey.
    inked = sum(image.histogram()[:200])
    assert inked > 0.01 * image.width * image.height, "the first page has something on it"


def test_an_admin_manages_webhooks_out_in_the_portal(served: Served, browser: Any) -> None:
    """Subscribe a system (its secret shown once), pause and resume it, rotate its secret
    and delete it, from the pages."""
    page = browser.new_context().new_page()
    sign_in(page, served.url, served.admin, "/dashboard/subscriptions")
    page.fill("#field-url", "http://127.0.0.1:9/portal-test")
    page.fill("#field-description", "board pack")
    page.check("#areas-1")
    page.click('form.subscribe button[type="submit"]')
    secret = page.locator("[data-secret]")
    expect(secret).to_contain_text("whsec_")
    first = secret.inner_text()
    page.click('section.made a:has-text("Its messages and log")')
    expect(page.locator('dd[data-state]')).to_have_text("sending")
    assert first not in page.content()
    page.click('button:has-text("Pause")')
    expect(page.locator(".done")).to_contain_text("Paused")
    expect(page.locator('dd[data-state]')).to_contain_text("paused (manual)")
    page.click('button:has-text("Resume")')
    expect(page.locator('dd[data-state]')).to_have_text("sending")
    page.click('button:has-text("Rotate the secret")')
    expect(page.locator("[data-secret]")).to_contain_text("whsec_")
    assert page.locator("[data-secret]").inner_text() != first
    page.click('button:has-text("Delete")')
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Tick the box")
    page.check("#confirm")
    page.click('button:has-text("Delete")')
    expect(page.locator(".done")).to_contain_text("Deleted")
    expect(page.locator("h1")).to_have_text("Webhooks out")
