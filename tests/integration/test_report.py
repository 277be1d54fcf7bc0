"""The period report as PDF: every area's figures for the range, as the dashboard shows
them to the same reader, how to read them, and the signed tree head they were computed
from; it loads nothing but its own stylesheets."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from services.ledger.report import OwnAssets, ResourceRefused
from shared.involvement import DEFINITIONS
from tests.integration.conftest import MakeApp
from tests.integration.test_dashboard import YEAR, sign_in
from tests.integration.test_metrics import Ledger
from tests.support import events as ev
from tests.support.scenario import events as scenario


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    ledger = Ledger(make_app("ledger"))
    ledger.append(scenario())
    return ledger


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_the_report_carries_the_figures_the_methods_and_the_signed_tree_head(
        ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    overview = http.get(f"/dashboard?{YEAR}").text
    assert "/dashboard/report.pdf?" in overview
    assert "/dashboard/report.pdf?" in http.get(f"/dashboard/areas/training?{YEAR}").text
    answer = http.get(f"/dashboard/report.pdf?{YEAR}")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="ladder-report-2026-01-01-to-2026-12-31.pdf"')
    assert answer.data.startswith(b"%PDF-")
    text = _text(answer.data)
    sth = ledger.get("/ct/v1/get-sth").json
    for fact in ("Tree size 26", f"Root hash {sth['sha256_root_hash']}",
                 "exact, as an admin reads them"):
        assert fact in text, fact
    # Every area, its figures as its page has them (the admin's exact ones)...
    for area in ("Recruitment", "Training", "Inspection", "Leadership"):
        assert f"{area} Every figure over the whole range" in text, area
    assert "Involvement Index 68.6" in text  # recruitment's, exact
    # ... and how to read them, the ladder in TLAP's words.
    assert " ".join(DEFINITIONS[4].quote.split())[:60] in text
    assert "100 × coverage × (0.7 × depth + 0.3 × reciprocity)" in text


def test_an_auditors_report_is_rounded_as_their_dashboard_is(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    text = _text(http.get(f"/dashboard/report.pdf?{YEAR}").data)
    assert "cell key random rounding (base 5, threshold 10)" in text
    assert "68.6" not in text, "recruitment's index rests on too few for an auditor"
    assert "[c]" in text


@pytest.mark.parametrize("query", ["period=decade", "from=2026-02-30",
                                   "from=2026-06-01&to=2026-01-01"])
def test_bad_filters_get_the_error_page(ledger: Ledger, query: str) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    answer = http.get(f"/dashboard/report.pdf?{query}")
    assert answer.status_code == 422 and answer.mimetype == "text/html"


def test_the_report_needs_a_session(ledger: Ledger) -> None:
    assert ledger.app.test_client().get("/dashboard/report.pdf").status_code == 302


@pytest.mark.parametrize("url", [
    "http://evil.example/dashboard/static/dashboard.css",
    "https://127.0.0.1/dashboard/static/../report.py",
    "file:///etc/passwd", "file:///dashboard/static/../../../etc/passwd",
    "http://localhost/dashboard/static/nothing.css", "data:text/css,body{}",
])
def test_the_report_loads_nothing_but_its_own_stylesheets(url: str) -> None:
    with pytest.raises(ResourceRefused):
        OwnAssets("http://localhost/").fetch(url)
    own = OwnAssets("http://localhost/").fetch("http://localhost/dashboard/static/report.css")
    assert b"@page" in own.read()


def test_a_unit_named_like_markup_is_text_in_the_report(make_app: MakeApp) -> None:
    ledger = Ledger(make_app("ledger"))
    unit = '<link rel="stylesheet" href="http://evil.example/x.css"><b>ward</b>'
    ledger.append([ev.activity("recruitment", unit, time="2026-03-01T10:00:00Z")])
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    text = _text(http.get(f"/dashboard/report.pdf?{YEAR}").data)
    # Escaped, the name is printed as it was written; nothing was fetched for it.
    assert "<b>ward</b>" in text.replace(" ", "")
