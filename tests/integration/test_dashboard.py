"""The auditor's dashboard over the worked example: sign-in, CSRF, suppression, the
access log, filters and the integrity check, through Flask's test client.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from services.ledger.models import AccessLog, ApiToken, DashboardSession, IntegrityCheck
from shared.auth import create_token, revoke_token
from tests.integration.conftest import MakeApp
from tests.integration.test_merkle_log import _rebuild
from tests.integration.test_metrics import Ledger
from tests.support import events as ev
from tests.support.scenario import events as scenario

YEAR = "from=2026-01-01&to=2026-12-31&period=quarter"


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    """The ledger with the worked example appended, and an auditor and an admin token."""
    ledger = Ledger(make_app("ledger"))
    ledger.append(scenario())
    return ledger


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "every form carries a CSRF token"
    return found.group(1)


def sign_in(http: FlaskClient, token: str, next_: str = "/dashboard") -> Any:
    form = http.get("/dashboard/sign-in")
    return http.post("/dashboard/sign-in", data={
        "csrf_token": _csrf(form.text), "token": token, "next": next_})


def _figure(page: str, area: str, name: str) -> str:
    found = re.search(rf'data-area="{area}" data-figure="{re.escape(name)}">(.*?)</td>', page,
                      re.S)
    assert found, f"no {name} for {area}"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _headline(page: str, name: str) -> str:
    found = re.search(rf'<dd data-figure="{re.escape(name)}">(.*?)</dd>', page, re.S)
    assert found, f"no {name}"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _count(ledger: Ledger, model: Any) -> int:
    with ledger.app.extensions["db"].reading() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_signing_in_exchanges_the_token_for_a_secure_httponly_session_cookie(
        ledger: Ledger) -> None:
    http = ledger.app.test_client()
    first = http.get("/dashboard")
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/dashboard/sign-in?next=/dashboard")
    answer = sign_in(http, ledger.auditor, f"/dashboard?{YEAR}")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/dashboard?{YEAR}"
    cookie = answer.headers["Set-Cookie"]
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/dashboard"):
        assert flag in cookie
    assert ledger.auditor not in cookie, "the token itself never goes to the browser"
    page = http.get(f"/dashboard?{YEAR}")
    assert page.status_code == 200
    assert "Signed in as <strong>board</strong>" in page.text
    for header in ("Content-Security-Policy", "X-Content-Type-Options"):
        assert header in page.headers
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("scopes", "status"), [(None, 401), (["ledger:write"], 403)])
def test_a_token_that_cannot_read_the_ledger_is_refused_and_opens_nothing(
        ledger: Ledger, scopes: list[str] | None, status: int) -> None:
    token = "ldr_unknown" if scopes is None else create_token(
        ledger.app.extensions["db"], ApiToken, ledger.app.config["TOKEN_PEPPER"], "writer",
        scopes)
    http = ledger.app.test_client()
    answer = sign_in(http, token)
    assert answer.status_code == status
    assert 'role="alert"' in answer.text
    assert _count(ledger, DashboardSession) == 0
    assert http.get("/dashboard").status_code == 302


def test_forms_without_their_csrf_token_are_refused_and_change_nothing(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    http.get("/dashboard/sign-in")
    refused = http.post("/dashboard/sign-in", data={"token": ledger.auditor})
    assert refused.status_code == 400
    assert "The CSRF token is missing." in refused.text
    assert _count(ledger, DashboardSession) == 0
    sign_in(http, ledger.auditor)
    forged = http.post("/dashboard/sign-out", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert http.get("/dashboard").status_code == 200, "still signed in"


def test_sign_out_ends_the_session_even_for_a_copied_cookie(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    page = http.get("/dashboard")
    copied = http.get_cookie("ladder_dashboard", path="/dashboard")
    assert copied is not None
    out = http.post("/dashboard/sign-out", data={"csrf_token": _csrf(page.text)})
    assert out.status_code == 303
    assert "You have signed out." in http.get(out.headers["Location"]).text
    assert http.get("/dashboard").status_code == 302
    thief = ledger.app.test_client()
    thief.set_cookie("ladder_dashboard", copied.value, path="/dashboard")
    assert thief.get("/dashboard").status_code == 302


def test_a_revoked_token_loses_access_on_its_next_page(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    assert http.get("/dashboard").status_code == 200
    revoke_token(ledger.app.extensions["db"], ApiToken, name="board")
    assert http.get("/dashboard").status_code == 302


def test_an_admin_sees_the_worked_example_side_by_side(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    page = http.get(f"/dashboard?{YEAR}").text
    expected = {"recruitment": ("100.0%", "68.6", "6", "5", "14.0"),
                "training": ("66.7%", "55.6", "3", "2", "8.0"),
                "inspection": ("100.0%", "63.3", "2", "1", "12.0")}
    for area, figures in expected.items():
        assert tuple(_figure(page, area, name) for name in (
            "coverage", "index", "involvements", "citizens", "hours")) == figures
    assert "suppressed</span>" not in page


def test_an_auditor_sees_the_figures_of_the_api_rounded_and_thin_ones_suppressed(
        ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    page = http.get(f"/dashboard/areas/recruitment?{YEAR}").text
    api = ledger.get("/v1/metrics", area="recruitment", period="month",
                     **{"from": "2026-01-01", "to": "2026-12-31"}).json["total"]
    # 6 involvements and 5 citizens, rounded as the API rounds them.
    assert (_headline(page, "involvements"), _headline(page, "citizens")) == (
        str(api["involvements"]), str(api["citizens"]))
    assert api["involvements"] % 5 == 0 and api["citizens"] % 5 == 0
    # 4 activities round to 0 or 5: coverage and the index, resting on them, are hidden.
    for name in ("coverage", "index"):
        assert name in api["suppressed"] or api["activities"] == 0
        assert _headline(page, name) == ("suppressed" if name in api["suppressed"] else "–")
    assert "every count is rounded to a multiple of" in page


def test_a_filter_by_unit_and_range_changes_the_figures(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    whole = http.get(f"/dashboard/areas/recruitment?{YEAR}").text
    east = http.get(f"/dashboard/areas/recruitment?{YEAR}&org_unit=east").text
    first_quarter = http.get("/dashboard/areas/recruitment?from=2026-01-01&to=2026-03-31"
                             "&period=month").text
    assert (_headline(whole, "index"), _headline(whole, "involvements")) == ("68.6", "6")
    assert (_headline(east, "index"), _headline(east, "involvements")) == ("88.3", "3")
    assert '<option value="east" selected>' in east
    assert _headline(first_quarter, "index") == "77.9"


@pytest.mark.parametrize(("query", "field"), [
    ("period=decade", "period"), ("from=2026-13-01", "from"),
    ("from=2026-06-01&to=2026-01-01", "to"), ("from=2000-01-01&to=2026-01-01", "to"),
])
def test_bad_filters_get_the_error_shape_as_a_page_and_change_nothing(
        ledger: Ledger, query: str, field: str) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    before = _count(ledger, IntegrityCheck)
    answer = http.get(f"/dashboard?{query}")
    assert answer.status_code == 422
    assert 'data-code="422"' in answer.text
    assert f"<code>{field}</code>" in answer.text
    assert _count(ledger, IntegrityCheck) == before


def test_an_unknown_area_is_404_and_a_foreign_next_is_ignored(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    answer = sign_in(http, ledger.auditor, "https://elsewhere.example/steal")
    assert answer.headers["Location"] == "/dashboard"
    assert sign_in(ledger.app.test_client(), ledger.auditor,
                   "//elsewhere.example").headers["Location"] == "/dashboard"
    missing = http.get("/dashboard/areas/housing")
    assert missing.status_code == 404
    assert "No area housing" in missing.text
    # A mistyped unit says so, and names the area's units, instead of an empty page.
    mistyped = http.get("/dashboard/areas/recruitment?org_unit=eest")
    assert mistyped.status_code == 404
    assert "No unit eest in recruitment; its units are east" in mistyped.text


def test_every_page_view_is_in_the_access_log_with_who_read_it(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    http.get(f"/dashboard?{YEAR}")
    http.get("/dashboard/areas/training")
    assert http.get("/dashboard/static/dashboard.css").status_code == 200
    with ledger.app.extensions["db"].reading() as session:
        rows = session.execute(sa.select(AccessLog.token_name, AccessLog.method, AccessLog.path,
                                         AccessLog.status).order_by(AccessLog.id)).all()
    dashboard = [tuple(r) for r in rows if r.path.startswith("/dashboard")]
    assert dashboard[-2:] == [("board", "GET", f"/dashboard?{YEAR}", 200),
                              ("board", "GET", "/dashboard/areas/training", 200)]
    assert ("board", "POST", "/dashboard/sign-in", 303) in dashboard
    assert not [r for r in dashboard if "static" in r[2]]


def test_the_dashboard_is_not_in_the_openapi_document(ledger: Ledger) -> None:
    spec = ledger.app.test_client().get("/openapi.json").json
    assert not [path for path in spec["paths"] if path.startswith("/dashboard")]


def _verdict(page: str) -> str:
    found = re.search(r'data-check="(\w+)"', page)
    assert found
    return found.group(1)


def test_the_integrity_panel_chains_its_checks_and_catches_a_rebuilt_tree(
        ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    first = http.get(f"/dashboard?{YEAR}").text
    assert _verdict(first) == "passed"
    assert '<dd data-figure="tree_size">26 entries</dd>' in first
    ledger.append([ev.involvement("training", pseudonym=f"p{n}") for n in range(3)])
    second = http.get(f"/dashboard?{YEAR}").text
    assert _verdict(second) == "passed"
    assert "extends the tree head of 26 entries" in second
    with ledger.app.extensions["db"].writing() as session:
        session.connection().exec_driver_sql(
            "UPDATE entries SET event = replace(event, '\"step\":7', '\"step\":1') WHERE seq = 2")
    _rebuild(ledger)
    for _ in range(2):  # and it stays failed: the next check is still against 29
        page = http.get(f"/dashboard?{YEAR}").text
        assert _verdict(page) == "failed"
        assert "not consistent with the tree head of 29 checked before" in page
    with ledger.app.extensions["db"].reading() as session:
        results = list(session.scalars(sa.select(IntegrityCheck.passed)
                                       .order_by(IntegrityCheck.id)))
    assert results == [True, True, False, False]


def test_an_empty_ledger_says_there_is_nothing_to_check(make_app: MakeApp) -> None:
    ledger = Ledger(make_app("ledger"))
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    page = http.get("/dashboard")
    assert page.status_code == 200
    assert "The ledger is empty" in page.text


def test_sign_in_over_plain_http_from_another_machine_explains_the_secure_cookie(
        ledger: Ledger) -> None:
    http = ledger.app.test_client()
    local = http.get("/dashboard/sign-in")
    remote = http.get("/dashboard/sign-in", base_url="http://ledger.example:8000")
    over_tls = http.get("/dashboard/sign-in", base_url="https://ledger.example")
    assert "reach the dashboard over HTTPS" not in local.text
    assert "reach the dashboard over HTTPS" in remote.text
    assert "reach the dashboard over HTTPS" not in over_tls.text
