"""What the dashboard tells a reader besides the figures: how to read them (the ladder in
TLAP's words, each formula, rounding and hiding), how a figure changed on the range
before, that a longer period would show what a short one hides, and the units compared."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.ledger import tables
from services.ledger.reports import LABELS
from shared.involvement import DEFINITIONS
from tests.integration.conftest import MakeApp
from tests.integration.test_dashboard import _headline, sign_in
from tests.integration.test_metrics import Ledger
from tests.support.scenario import events as scenario

SECOND_QUARTER = "from=2026-04-01&to=2026-06-30&period=quarter"


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    ledger = Ledger(make_app("ledger"))
    ledger.append(scenario())
    return ledger


def _change(page: str, name: str) -> tuple[str, str]:
    found = re.search(rf'<dd data-figure="{name}">.*?<dd class="sub change" '
                      r'data-change="(\w+)">(.*?)</dd>', page, re.S)
    assert found, f"no change under {name}"
    return found.group(1), " ".join(found.group(2).split())


def test_every_figure_on_a_page_is_explained() -> None:
    shown = {*tables.AREA_FIGURES, *tables.TREND, *tables.PEOPLE, *tables.UNITS,
             *tables.OVERVIEW}
    assert shown <= set(tables.EXPLAINED)
    assert set(tables.EXPLAINED) <= set(LABELS)


def test_the_page_of_methods_says_how_to_read_the_figures(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    area = http.get("/dashboard/areas/recruitment").text
    # Linked from every page, and from each step and the headline.
    for anchor in ("", "#figures", "#index", *(f"#step-{n}" for n in range(1, 8))):
        assert f'href="/dashboard/methods{anchor}"' in area, anchor
    page = http.get("/dashboard/methods")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for step, source in DEFINITIONS.items():
        assert f'id="step-{step}"' in text
        assert source.quote in text, step
        assert f'href="{source.url}"' in text
    for name, meaning in tables.EXPLAINED.items():
        assert f'id="figure-{name}"' in text and LABELS[name] in text
        assert meaning in text, name
    assert "rounded to a multiple of 5" in text and "under\n      10" in text
    assert "100 × coverage × (0.7 × depth + 0.3 × reciprocity)" in text
    assert 'aria-current="page">How to read' in text
    sign_in(admin := ledger.app.test_client(), ledger.admin)
    assert "every figure you see is <strong>exact</strong>" in admin.get(
        "/dashboard/methods").text


def test_a_headline_figure_says_how_it_changed_on_the_range_before(ledger: Ledger) -> None:
    """The worked example's second quarter against its first: each change is the
    difference of the two figures the API gives for the two quarters."""
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    page = http.get(f"/dashboard/areas/recruitment?{SECOND_QUARTER}").text
    assert "changes are against 2026-01-01 to 2026-03-31" in page

    def total(start: str, end: str) -> dict[str, float]:
        return ledger.get("/v1/metrics", ledger.admin, area="recruitment", period="quarter",
                          **{"from": start, "to": end}).json["total"]

    now, before = total("2026-04-01", "2026-06-30"), total("2026-01-01", "2026-03-31")
    assert None not in (now["index"], before["index"], now["coverage"], before["coverage"])
    for name, scale, unit in (("index", 1, "points"), ("coverage", 100, "percentage points")):
        delta = round(scale * (now[name] - before[name]), 1)
        word = "up" if delta > 0 else "down"
        expected = ("same", "the same as the range before") if delta == 0 else (
            word, f"{'▲' if delta > 0 else '▼'} {word} {abs(delta):.1f} {unit} on the "
                  "range before")
        assert _change(page, name) == expected
    # The whole year against the year before, when nothing was recorded.
    year = http.get("/dashboard/areas/recruitment?from=2026-01-01&to=2026-12-31").text
    assert _change(year, "index") == ("none", "no earlier figure to compare")
    overview = http.get(f"/dashboard?{SECOND_QUARTER}").text
    assert overview.count('class="sub change"') == 2 * 4


def test_a_page_whose_months_are_mostly_hidden_offers_quarters(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    by_month = "from=2026-01-01&to=2026-12-31&period=month"
    page = http.get(f"/dashboard/areas/recruitment?{by_month}").text
    months = ledger.get("/v1/metrics", area="recruitment", period="month",
                        **{"from": "2026-01-01", "to": "2026-12-31"}).json["rows"]
    measured = [m for m in months if m["activities"]]
    hidden = [m for m in measured if "index" in m["suppressed"]]
    assert 2 * len(hidden) > len(measured), "the worked example's months are thin"
    assert "Most months' figures are hidden" in html.unescape(page)
    offer = re.search(r'<a href="([^"]+)">View by quarter</a>', page)
    assert offer and "period=quarter" in offer.group(1)
    assert http.get(offer.group(1).replace("&amp;", "&")).status_code == 200
    # An admin's figures are exact: nothing hidden, nothing to offer.
    sign_in(admin := ledger.app.test_client(), ledger.admin)
    assert "View by quarter" not in admin.get(f"/dashboard/areas/recruitment?{by_month}").text
    assert "Most months" in http.get(f"/dashboard?{by_month}").text


def test_the_units_are_compared_in_a_chart_with_their_table(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    page = http.get("/dashboard/areas/recruitment?from=2026-01-01&to=2026-12-31").text
    chart = re.search(r'<svg class="chart"[^>]*aria-labelledby="units-chart-t.*?</svg>',
                      page, re.S)
    assert chart, "a chart of the units"
    for unit in ("east", "west"):
        assert f">{unit}</text>" in chart.group(0)
    assert "Coverage: " in chart.group(0) and "Index: " in chart.group(0)
    assert _headline(page, "index") == "68.6"


def test_the_dates_are_asked_for_as_day_month_and_year(ledger: Ledger) -> None:
    """The GOV.UK date input: three boxes a date each, sent on to the page's one way of
    writing the date, so that every link and bookmark reads the same."""
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    page = http.get(f"/dashboard/areas/recruitment?{SECOND_QUARTER}").text
    for name, value in (("from-day", "1"), ("from-month", "4"), ("from-year", "2026"),
                        ("to-day", "30"), ("to-month", "6"), ("to-year", "2026")):
        assert re.search(rf'name="{name}" type="text" inputmode="numeric"', page), name
        assert re.search(rf'name="{name}"[^>]*value="{value}"', page), name
    assert 'type="date"' not in page and '>From</legend>' in page
    sent = http.get("/dashboard/areas/recruitment", query_string={
        "org_unit": "east", "period": "quarter", "from-day": "1", "from-month": "4",
        "from-year": "2026", "to-day": " 30", "to-month": "06", "to-year": "2026"})
    assert sent.status_code == 302
    location = urlsplit(sent.headers["Location"])
    assert location.path == "/dashboard/areas/recruitment"
    assert parse_qs(location.query) == {"org_unit": ["east"], "period": ["quarter"],
                                        "from": ["2026-04-01"], "to": ["2026-06-30"]}
    assert _headline(http.get(sent.headers["Location"]).text, "index") == "88.3"
    # The same for a download and for the page of all areas.
    sent = http.get("/dashboard/tables/areas.csv?from-day=1&from-month=1&from-year=2026")
    assert sent.status_code == 302 and "from=2026-01-01" in sent.headers["Location"]


@pytest.mark.parametrize(("query", "message"), [
    ("from-day=1&from-year=2026", "from must include a month"),
    ("to-day=1", "to must include a month and a year"),
    ("from-day=x&from-month=1&from-year=2026", "from must be a real date"),
    ("from-day=%D9%A3&from-month=1&from-year=2026", "from must be a real date"),
    ("from-day=1&from-month=1&from-year=99999", "from must be a real date"),
    ("from-day=-1&from-month=1&from-year=2026", "from must be a real date"),
    ("from-day=%ED%A0%80&from-month=1&from-year=2026", "from must be a real date"),
])
def test_a_date_that_is_not_one_is_refused_naming_it(
        ledger: Ledger, query: str, message: str) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    answer = http.get(f"/dashboard/areas/recruitment?{query}")
    assert answer.status_code == 422
    assert message in html.unescape(answer.text)


def test_a_day_the_month_does_not_have_is_refused_after_it_is_written_once(
        ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    answer = http.get("/dashboard?from-day=31&from-month=2&from-year=2026",
                      follow_redirects=True)
    assert answer.status_code == 422 and "from" in answer.text


def test_a_hidden_figure_has_no_change_to_subtract(ledger: Ledger) -> None:
    """For an auditor the worked example's quarters are thin: where a figure of either
    range is hidden, no change is shown, so no difference of the two can be read, nor a
    hidden figure worked out from a shown one and its change."""
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    page = http.get(f"/dashboard/areas/recruitment?{SECOND_QUARTER}").text

    def total(start: str, end: str) -> dict[str, Any]:
        return dict(ledger.get("/v1/metrics", area="recruitment", period="quarter",
                               **{"from": start, "to": end}).json["total"])

    now, before = total("2026-04-01", "2026-06-30"), total("2026-01-01", "2026-03-31")
    for name in ("coverage", "index"):
        hidden = name in now["suppressed"] or name in before["suppressed"]
        assert hidden, "the worked example is thin for an auditor"
        assert _change(page, name) == ("none", "no earlier figure to compare")
        assert "points" not in _change(page, name)[1]
