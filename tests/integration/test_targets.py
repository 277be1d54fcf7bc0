"""Targets: an admin sets the figure the organisation aims for, per area, unit and
measure; every reader sees each figure against it on the dashboard, and in its
downloads. Bad targets are refused and change nothing."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from tests.integration.conftest import MakeApp
from tests.integration.test_dashboard import YEAR, sign_in
from tests.integration.test_metrics import Ledger
from tests.support.scenario import events as scenario


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    ledger = Ledger(make_app("ledger"))
    ledger.append(scenario())
    return ledger


def _set(ledger: Ledger, token: str | None = None, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token or ledger.admin}"}
    return ledger.http.post("/v1/targets", json=body, headers=headers)


def _all(ledger: Ledger) -> list[dict[str, Any]]:
    return list(ledger.get("/v1/targets").json["items"])


def test_an_admin_sets_replaces_and_removes_targets_that_every_reader_sees(
        ledger: Ledger) -> None:
    made = _set(ledger, area="recruitment", measure="coverage", value=0.6)
    assert made.status_code == 200, made.json
    target = made.json
    assert (target["area"], target["org_unit"], target["measure"], target["value"],
            target["set_by"]) == ("recruitment", None, "coverage", 0.6, "ops")
    # Set again: the same target, replaced.
    again = _set(ledger, area="recruitment", measure="coverage", value=0.75).json
    assert (again["id"], again["value"]) == (target["id"], 0.75)
    east = _set(ledger, area="recruitment", measure="coverage", value=0.5,
                org_unit="east").json
    assert east["id"] != target["id"] and east["org_unit"] == "east"
    assert [(t["org_unit"], t["value"]) for t in _all(ledger)] == [(None, 0.75), ("east", 0.5)]
    assert ledger.get("/v1/targets", area="training").json["items"] == []
    removed = ledger.http.delete(f"/v1/targets/{east['id']}",
                                 headers={"Authorization": f"Bearer {ledger.admin}"})
    assert removed.status_code == 204
    assert [t["id"] for t in _all(ledger)] == [target["id"]]
    assert ledger.http.delete(f"/v1/targets/{east['id']}", headers={
        "Authorization": f"Bearer {ledger.admin}"}).status_code == 404


@pytest.mark.parametrize(("body", "status"), [
    ({"area": "recruitment", "measure": "coverage", "value": "0.5"}, 422),
    ({"area": "recruitment", "measure": "coverage", "value": True}, 422),
    ({"area": "recruitment", "measure": "coverage", "value": 1.5}, 422),
    ({"area": "recruitment", "measure": "coverage", "value": -0.1}, 422),
    ({"area": "recruitment", "measure": "index", "value": 100.5}, 422),
    ({"area": "recruitment", "measure": "median_step", "value": 0}, 422),
    ({"area": "recruitment", "measure": "coverage", "value": 10 ** 400}, 422),
    ({"area": "recruitment", "measure": "hours", "value": 10}, 422),
    ({"area": "elsewhere", "measure": "coverage", "value": 0.5}, 422),
    ({"area": "recruitment", "measure": "coverage", "value": 0.5, "org_unit": ""}, 422),
    ({"area": "recruitment", "measure": "coverage", "value": 0.5, "org_unit": "x" * 257}, 422),
    ({"area": "recruitment", "measure": "coverage", "value": 0.5, "colour": "red"}, 422),
    ({"area": "recruitment", "measure": "coverage"}, 422),
])
def test_a_bad_target_is_refused_in_the_error_shape_and_changes_nothing(
        ledger: Ledger, body: dict[str, Any], status: int) -> None:
    answer = _set(ledger, **body)
    assert answer.status_code == status, answer.json
    assert set(answer.json) == {"code", "status", "message", "errors"}
    assert _all(ledger) == []


def test_only_an_admin_sets_a_target(ledger: Ledger) -> None:
    body = {"area": "recruitment", "measure": "coverage", "value": 0.5}
    assert _set(ledger, ledger.auditor, **body).status_code == 403
    assert ledger.http.post("/v1/targets", json=body).status_code == 401
    assert _all(ledger) == []


def _standing(page: str) -> dict[str, tuple[str, str]]:
    """The targets' table: each figure's status and target."""
    rows = re.findall(r'<tr data-target="(\w+)"><th scope="row">(.*?)</th><td>(.*?)</td>',
                      page, re.S)
    return {label: (status, target) for status, label, target in rows}


def test_the_dashboard_shows_each_figure_against_its_target(ledger: Ledger) -> None:
    """The worked example's recruitment, 2026, exact for an admin: coverage 100.0% and
    the index 68.6."""
    _set(ledger, area="recruitment", measure="coverage", value=0.9)
    _set(ledger, area="recruitment", measure="index", value=70)
    _set(ledger, area="recruitment", measure="co_production", value=0.5, org_unit="east")
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    page = http.get(f"/dashboard/areas/recruitment?{YEAR}").text
    assert _standing(page) == {"Coverage": ("met", "90.0%"),
                               "Involvement Index": ("not_met", "70.0")}
    assert "Target 90.0%: met" in page
    assert "Target 70.0: not met: 1.4 below" in page
    east = http.get(f"/dashboard/areas/recruitment?{YEAR}&org_unit=east").text
    assert list(_standing(east)) == ["Co-production"]
    # Downloads carry them too, the target a number as the figure is.
    rows = list(csv.reader(io.StringIO(http.get(
        f"/dashboard/areas/recruitment/tables/targets.csv?{YEAR}").text)))
    assert rows == [["Figure", "Target", "This range", "Status"],
                    ["Coverage (%)", "90.0", "100.0", "met"],
                    ["Involvement Index", "70.0", "68.6", "not met: 1.4 below"]]
    # A page with no targets has no such table, and no such download.
    assert 'id="targets"' not in http.get(f"/dashboard/areas/training?{YEAR}").text
    assert http.get(f"/dashboard/areas/training/tables/targets.csv?{YEAR}").status_code == 404


def test_a_hidden_figure_is_not_compared(ledger: Ledger) -> None:
    _set(ledger, area="recruitment", measure="index", value=50)
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    page = http.get(f"/dashboard/areas/recruitment?{YEAR}").text
    api = ledger.get("/v1/metrics", area="recruitment", period="quarter",
                     **{"from": "2026-01-01", "to": "2026-12-31"}).json["total"]
    assert "index" in api["suppressed"], "the worked example is thin for an auditor"
    assert _standing(page) == {"Involvement Index": ("hidden", "50.0")}
    assert "the figure is hidden: too few to compare" in page
