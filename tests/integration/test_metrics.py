"""The measures, against the hand-computed worked example in docs/metrics.md."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.ledger import service
from services.ledger.models import ApiToken
from shared.auth import create_token
from tests.integration.conftest import MakeApp
from tests.support import events as ev
from tests.support.scenario import events as scenario

YEAR = {"from": "2026-01-01", "to": "2026-12-31"}


class Ledger:
    """The ledger app with an auditor and an admin token."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.http: FlaskClient = app.test_client()
        db, pepper = app.extensions["db"], app.config["TOKEN_PEPPER"]
        self.auditor = create_token(db, ApiToken, pepper, "board", ["ledger:read"])
        self.admin = create_token(db, ApiToken, pepper, "ops", ["ledger:admin"])

    def get(self, path: str, token: str | None = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.auditor}"}
        return self.http.get(path, query_string=params, headers=headers)

    def append(self, events: list[dict[str, Any]]) -> None:
        result = service.append_batch(self.app.extensions["db"], events,
                                      self.app.extensions["signer"])
        assert result.rejected == 0


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    """The ledger, with the worked example appended."""
    ledger = Ledger(make_app("ledger"))
    ledger.append(scenario())
    return ledger


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("area", "org_unit", "period", "starts")}


Q1 = {"activities": 3, "activities_involved": 3, "coverage": 1.0, "involvements": 4,
      "steps": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1, "6": 0, "7": 2}, "median_step": 6.0,
      "co_design_or_higher": 0.5, "co_production": 0.5, "citizens": 3, "returning_citizens": 1,
      "hours": 10.5, "recognition_rate": 0.75, "decision_vote_share": 0.5,
      "feedback_rate": 0.75, "index": 77.9, "suppressed": []}
Q2 = {"activities": 1, "activities_involved": 1, "coverage": 1.0, "involvements": 2,
      "steps": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0, "6": 1, "7": 0}, "median_step": 4.0,
      "co_design_or_higher": 0.5, "co_production": 0.0, "citizens": 2, "returning_citizens": 0,
      "hours": 3.5, "recognition_rate": 0.5, "decision_vote_share": 0.5, "feedback_rate": 0.5,
      "index": 50.0, "suppressed": []}
EMPTY = {"activities": 0, "activities_involved": 0, "coverage": None, "involvements": 0,
         "steps": {str(n): 0 for n in range(1, 8)}, "median_step": None,
         "co_design_or_higher": None, "co_production": None, "citizens": 0,
         "returning_citizens": 0, "hours": 0.0, "recognition_rate": None,
         "decision_vote_share": None, "feedback_rate": None, "index": None, "suppressed": []}
RECRUITMENT_YEAR = {
    "activities": 4, "activities_involved": 4, "coverage": 1.0, "involvements": 6,
    "steps": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1, "6": 1, "7": 2}, "median_step": 5.5,
    "co_design_or_higher": 0.5, "co_production": 0.3333, "citizens": 5,
    "returning_citizens": 1, "hours": 14.0, "recognition_rate": 0.6667,
    "decision_vote_share": 0.5, "feedback_rate": 0.6667, "index": 68.6, "suppressed": []}


def test_recruitment_by_quarter_matches_the_worked_example(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", ledger.admin, area="recruitment", period="quarter",
                      **YEAR).json
    assert body["periods"] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert body["threshold"] is None
    assert [_figures(r) for r in body["rows"]] == [Q1, Q2, EMPTY, EMPTY]
    assert _figures(body["total"]) == RECRUITMENT_YEAR


def test_the_areas_side_by_side(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", ledger.admin, group_by="area", period="year",
                      **YEAR).json
    by_area = {r["area"]: _figures(r) for r in body["rows"]}
    assert by_area["recruitment"] == RECRUITMENT_YEAR
    assert by_area["training"] == {
        "activities": 3, "activities_involved": 2, "coverage": 0.6667, "involvements": 3,
        "steps": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1, "6": 1, "7": 1}, "median_step": 6.0,
        "co_design_or_higher": 0.6667, "co_production": 0.3333, "citizens": 2,
        "returning_citizens": 1, "hours": 8.0, "recognition_rate": 1.0,
        "decision_vote_share": 0.6667, "feedback_rate": 0.6667, "index": 55.6,
        "suppressed": []}
    assert by_area["inspection"] == {
        "activities": 2, "activities_involved": 2, "coverage": 1.0, "involvements": 2,
        "steps": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1, "6": 0, "7": 0}, "median_step": 4.5,
        "co_design_or_higher": 0.0, "co_production": 0.0, "citizens": 1,
        "returning_citizens": 1, "hours": 12.0, "recognition_rate": 1.0,
        "decision_vote_share": 0.0, "feedback_rate": 0.5, "index": 63.3, "suppressed": []}


def test_by_org_unit_follows_the_moved_vacancy(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", ledger.admin, area="recruitment", group_by="org_unit",
                      period="month", **YEAR).json
    units = {r["org_unit"]: r for r in body["rows"]}
    assert list(units) == ["east", "west"]
    assert (units["east"]["activities"], units["east"]["involvements"]) == (2, 3)
    assert (units["west"]["activities"], units["west"]["involvements"]) == (2, 3)
    assert units["west"]["steps"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0, "6": 0, "7": 1}
    assert _figures(body["total"]) == RECRUITMENT_YEAR


@pytest.mark.parametrize("group_by", ["area", "org_unit"])
def test_a_calendar_year_and_a_ragged_range_around_it_agree(ledger: Ledger,
                                                            group_by: str) -> None:
    # A whole year is read from its own rows; a ragged range sums months and counts
    # citizens from the per-citizen table. Nothing happened outside 2026, so they agree.
    exact = ledger.get("/v1/metrics", ledger.admin, area="recruitment", group_by=group_by,
                       period="month", **YEAR).json
    ragged = ledger.get("/v1/metrics", ledger.admin, area="recruitment", group_by=group_by,
                        period="month", **{"from": "2025-11-15", "to": "2027-01-20"}).json
    assert len(ragged["periods"]) == 15
    assert ragged["rows"] == exact["rows"]
    assert ragged["total"] == exact["total"]


def test_one_unit_by_month(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", ledger.admin, area="recruitment", org_unit="west",
                      period="month", **{"from": "2026-02-01", "to": "2026-03-31"}).json
    feb, mar = body["rows"]
    # R2 moved to west with its involvement; R3's I4 was corrected in March but counts in
    # February, when it happened.
    assert (feb["activities"], feb["involvements"], feb["steps"]["7"]) == (2, 2, 1)
    assert mar["involvements"] == 0


def test_auditors_see_small_numbers_suppressed(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", area="recruitment", period="year", **YEAR).json
    assert body["threshold"] == 5
    [row] = body["rows"]
    # 4 activities and 1 returning citizen are under 5; 6 involvements and 5 citizens are not.
    assert row["activities"] is None and row["returning_citizens"] is None
    assert row["involvements"] == 6 and row["citizens"] == 5
    # Coverage and the index are derived from the hidden activity count.
    assert row["coverage"] is None and row["index"] is None
    # One step each: all small, all hidden; shares of 3 of 6 reveal 3.
    assert set(row["steps"].values()) <= {None, 0}
    assert row["co_design_or_higher"] is None and row["median_step"] == 5.5
    assert {"activities", "coverage", "index", "steps.7"} <= set(row["suppressed"])


def test_suppression_hides_a_count_of_three_and_shows_twelve(make_app: MakeApp) -> None:
    ledger = Ledger(make_app("ledger"))
    big, small = [], []
    for n in range(12):
        a = ev.activity("training", "big-unit", time="2026-05-01T09:00:00Z")
        big += [a, ev.involvement("training", 6, activity_id=a["data"]["activity_id"],
                                  org_unit="big-unit", pseudonym=f"p{n}",
                                  time="2026-05-02T09:00:00Z")]
    for n in range(3):
        a = ev.activity("training", "small-unit", time="2026-05-01T09:00:00Z")
        small += [a, ev.involvement("training", 6, activity_id=a["data"]["activity_id"],
                                    org_unit="small-unit", pseudonym=f"q{n}",
                                    time="2026-05-02T09:00:00Z")]
    ledger.append(big + small)
    rows = {r["org_unit"]: r for r in ledger.get(
        "/v1/metrics", area="training", group_by="org_unit", period="month", **YEAR).json["rows"]}
    assert rows["big-unit"]["activities"] == 12 and rows["big-unit"]["citizens"] == 12
    assert rows["big-unit"]["steps"]["6"] == 12 and rows["big-unit"]["coverage"] == 1.0
    assert rows["small-unit"]["activities"] is None and rows["small-unit"]["citizens"] is None
    assert rows["small-unit"]["steps"]["6"] is None and rows["small-unit"]["hours"] is None
    admin = ledger.get("/v1/metrics", ledger.admin, area="training", group_by="org_unit",
                       period="month", **YEAR).json["rows"]
    assert {r["org_unit"]: r["activities"] for r in admin} == {"big-unit": 12, "small-unit": 3}
    csv = ledger.get("/v1/exports/metrics", ledger.admin, area="training", group_by="org_unit",
                     period="month", **YEAR).get_data(as_text=True)
    small_line = next(line for line in csv.splitlines() if line.startswith("training,small"))
    assert ",3," not in small_line


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"area": "gardening"}, "area"),
        ({"area": "recruitment", "group_by": "colour"}, "group_by"),
        ({"area": "recruitment", "period": "week"}, "period"),
        ({"area": "recruitment", "from": "2026-12-31", "to": "2026-01-01"}, "to"),
        ({"group_by": "period"}, "area"),
        ({"area": "recruitment", "from": "yesterday"}, "from"),
    ],
)
def test_bad_metric_parameters_are_422_naming_them(
    ledger: Ledger, params: dict[str, str], field: str
) -> None:
    response = ledger.get("/v1/metrics", **{**YEAR, **params})
    assert response.status_code == 422
    assert field in response.json["errors"]["query"]


def test_ladder_report_prints_the_measures_as_a_table(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from services.cli import main

    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.app.extensions["db"].url)
    result = CliRunner().invoke(main, ["report", "--area", "recruitment", "--from",
                                       "2026-01-01", "--to", "2026-12-31", "--no-suppress"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["period", "activities", "involved", "coverage"]
    q1 = lines[1].split()
    assert q1[:4] == ["2026-Q1", "3", "3", "100.0%"] and "77.9" in q1
    assert lines[5].split()[0] == "total" and "68.6" in lines[5].split()
    suppressed = CliRunner().invoke(main, ["report", "--area", "recruitment", "--from",
                                           "2026-01-01", "--to", "2026-12-31"])
    assert suppressed.output.splitlines()[1].split()[1] == "*"
    side_by_side = CliRunner().invoke(main, ["report", "--from", "2026-01-01", "--to",
                                             "2026-12-31", "--no-suppress"])
    assert [line.split()[0] for line in side_by_side.output.splitlines()[1:4]] == [
        "recruitment", "training", "inspection"]


def test_ladder_export_writes_every_entry(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from click.testing import CliRunner

    from services.cli import main

    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.app.extensions["db"].url)
    out = tmp_path / "entries.ndjson"
    result = CliRunner().invoke(main, ["export", "--format", "ndjson", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 26 entries" in result.output
    assert len(out.read_text().splitlines()) == 26
