"""The measures, against the hand-computed worked example in docs/metrics.md."""

from __future__ import annotations

import io
from csv import reader
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.ledger.disclosure import citizen_key
from services.ledger.metrics import Rounded
from services.ledger.models import ApiToken
from shared.auth import create_token
from tests.integration.conftest import MakeApp
from tests.support import appending
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
        result = appending.append(self.app.extensions["db"], events,
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
      "feedback_rate": 0.75, "index": 77.9, "told": 0, "told_rate": 0.0,
      "changed": 0, "change_rate": 0.0, "median_days_to_feedback": None,
      "non_financial_share": 0.3333, "rubric_versions": ["recruitment-1"], "suppressed": []}
Q2 = {"activities": 1, "activities_involved": 1, "coverage": 1.0, "involvements": 2,
      "steps": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0, "6": 1, "7": 0}, "median_step": 4.0,
      "co_design_or_higher": 0.5, "co_production": 0.0, "citizens": 2, "returning_citizens": 0,
      "hours": 3.5, "recognition_rate": 0.5, "decision_vote_share": 0.5, "feedback_rate": 0.5,
      "index": 50.0, "told": 0, "told_rate": 0.0, "changed": 0, "change_rate": 0.0,
      "median_days_to_feedback": None, "non_financial_share": 0.0,
      "rubric_versions": ["recruitment-1"], "suppressed": []}
EMPTY = {"activities": 0, "activities_involved": 0, "coverage": None, "involvements": 0,
         "steps": {str(n): 0 for n in range(1, 8)}, "median_step": None,
         "co_design_or_higher": None, "co_production": None, "citizens": 0,
         "returning_citizens": 0, "hours": 0.0, "recognition_rate": None,
         "decision_vote_share": None, "feedback_rate": None, "index": None, "told": 0,
         "told_rate": None, "changed": 0, "change_rate": None,
         "median_days_to_feedback": None, "non_financial_share": None, "rubric_versions": [],
         "suppressed": []}
RECRUITMENT_YEAR = {
    "activities": 4, "activities_involved": 4, "coverage": 1.0, "involvements": 6,
    "steps": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1, "6": 1, "7": 2}, "median_step": 5.5,
    "co_design_or_higher": 0.5, "co_production": 0.3333, "citizens": 5,
    "returning_citizens": 1, "hours": 14.0, "recognition_rate": 0.6667,
    "decision_vote_share": 0.5, "feedback_rate": 0.6667, "index": 68.6, "told": 0,
    "told_rate": 0.0, "changed": 0, "change_rate": 0.0, "median_days_to_feedback": None,
    "non_financial_share": 0.25, "rubric_versions": ["recruitment-1"], "suppressed": []}


def test_recruitment_by_quarter_matches_the_worked_example(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", ledger.admin, area="recruitment", period="quarter",
                      **YEAR).json
    assert body["periods"] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert body["disclosure"] == {"method": "exact"}
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
        "told": 0,
        "told_rate": 0.0, "changed": 0, "change_rate": 0.0, "median_days_to_feedback": None,
        "non_financial_share": 0.0, "rubric_versions": ["training-1"], "suppressed": []}
    assert by_area["inspection"] == {
        "activities": 2, "activities_involved": 2, "coverage": 1.0, "involvements": 2,
        "steps": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1, "6": 0, "7": 0}, "median_step": 4.5,
        "co_design_or_higher": 0.0, "co_production": 0.0, "citizens": 1,
        "returning_citizens": 1, "hours": 12.0, "recognition_rate": 1.0,
        "decision_vote_share": 0.0, "feedback_rate": 0.5, "index": 63.3, "told": 0,
        "told_rate": 0.0, "changed": 0, "change_rate": 0.0, "median_days_to_feedback": None,
        "non_financial_share": 0.0, "rubric_versions": ["inspection-1"], "suppressed": []}


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


@pytest.mark.parametrize("who", ["admin", "reader"])
def test_quarters_that_make_up_a_year_total_as_the_year_does(ledger: Ledger,
                                                              who: str) -> None:
    # February to November overlaps all four quarters: their total is the year's, and its
    # citizens are read off the year's row, as a query of the whole year reads them.
    token = ledger.admin if who == "admin" else ledger.auditor
    year = ledger.get("/v1/metrics", token, area="recruitment", period="year", **YEAR).json
    quarters = ledger.get("/v1/metrics", token, area="recruitment", period="quarter",
                          **{"from": "2026-02-10", "to": "2026-11-20"}).json
    assert [row["period"] for row in quarters["rows"]] == [f"2026-Q{q}" for q in range(1, 5)]
    assert quarters["total"] == year["total"]
    assert who == "reader" or year["total"]["citizens"] > 0


def test_one_unit_by_month(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", ledger.admin, area="recruitment", org_unit="west",
                      period="month", **{"from": "2026-02-01", "to": "2026-03-31"}).json
    feb, mar = body["rows"]
    # R2 moved to west with its involvement; R3's I4 was corrected in March but counts in
    # February, when it happened.
    assert (feb["activities"], feb["involvements"], feb["steps"]["7"]) == (2, 2, 1)
    assert mar["involvements"] == 0


def _counts(row: dict[str, Any]) -> list[int]:
    return [row[name] for name in ("activities", "activities_involved", "involvements",
                                   "citizens", "returning_citizens")] + list(row["steps"].values())


def test_auditors_see_counts_rounded_and_thin_figures_hidden(ledger: Ledger) -> None:
    body = ledger.get("/v1/metrics", area="recruitment", period="year", **YEAR).json
    assert body["disclosure"] == {"method": "cell key random rounding", "base": 5,
                                  "threshold": 10}
    [row] = body["rows"]
    # Every count is a multiple of 5, never null; each rounded on its own, so the steps
    # need not add up to the involvements, and no step shows more than them.
    assert all(n % 5 == 0 for n in _counts(row))
    assert all(n <= row["involvements"] for n in row["steps"].values())
    # The year is the sum of its rounded months: 4 activities and 6 involvements in
    # cells of 1 or 2, each rounded to 0 or 5. A figure resting on a rounded count under
    # 10 is hidden, and says so; the admin sees the exact year.
    assert row["activities"] <= 5 * 4 and row["involvements"] <= 5 * 6
    hidden = set(row["suppressed"])
    assert ("coverage" in hidden) == (0 < row["activities"] < 10)
    assert ("median_step" in hidden) == (0 < row["involvements"] < 10)
    assert all(row[name] is None for name in hidden)
    exact = ledger.get("/v1/metrics", ledger.admin, area="recruitment", period="year",
                       **YEAR).json["rows"][0]
    assert (exact["activities"], exact["involvements"], exact["suppressed"]) == (4, 6, [])


def test_a_count_of_three_is_never_shown_and_twelve_is_shown_near(make_app: MakeApp) -> None:
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
    body = ledger.get("/v1/metrics", area="training", group_by="org_unit", period="month",
                      **YEAR).json
    rows = {r["org_unit"]: r for r in body["rows"]}
    assert rows["big-unit"]["activities"] in (10, 15) and rows["big-unit"]["citizens"] in (10, 15)
    assert rows["small-unit"]["activities"] in (0, 5) and rows["small-unit"]["citizens"] in (0, 5)
    assert rows["small-unit"]["steps"]["6"] in (0, 5)
    # The total is the sum of the rounded units: subtracting one unit from it finds the
    # other's rounded value, never its exact one.
    assert body["total"]["activities"] == sum(r["activities"] for r in rows.values())
    admin = ledger.get("/v1/metrics", ledger.admin, area="training", group_by="org_unit",
                       period="month", **YEAR).json["rows"]
    assert {r["org_unit"]: r["activities"] for r in admin} == {"big-unit": 12, "small-unit": 3}
    csv = ledger.get("/v1/exports/metrics", ledger.admin, area="training", group_by="org_unit",
                     period="month", **YEAR).get_data(as_text=True)
    small_line = next(line for line in csv.splitlines() if line.startswith("training,small"))
    assert ",3," not in small_line
    [row] = [r for r in reader(io.StringIO(csv)) if r[1] == "small-unit"]
    assert row[-1] == "cell key random rounding (base 5, threshold 10)"


def test_every_query_shows_a_cell_the_same_and_totals_are_their_parts(ledger: Ledger) -> None:
    """The same figure whichever range or grouping produced it; a total is its parts."""
    by_month = ledger.get("/v1/metrics", area="recruitment", period="month", **YEAR).json
    by_quarter = ledger.get("/v1/metrics", area="recruitment", period="quarter", **YEAR).json
    by_unit = ledger.get("/v1/metrics", area="recruitment", group_by="org_unit",
                         period="month", **YEAR).json
    side = ledger.get("/v1/metrics", group_by="area", period="year", **YEAR).json
    [recruitment] = [r for r in side["rows"] if r["area"] == "recruitment"]
    additive = ("activities", "activities_involved", "involvements")
    for name in additive:
        year = by_month["total"][name]
        assert year == by_quarter["total"][name] == by_unit["total"][name] == recruitment[name]
        assert year == sum(r[name] for r in by_month["rows"]) == sum(
            r[name] for r in by_quarter["rows"]) == sum(r[name] for r in by_unit["rows"])
        # Q1 by quarter is January + February + March by month.
        assert by_quarter["rows"][0][name] == sum(r[name] for r in by_month["rows"][:3])
    # Two ranges a month apart differ by exactly that month's rounded figures.
    to_march = ledger.get("/v1/metrics", area="recruitment", period="month",
                          **{"from": "2026-01-01", "to": "2026-03-31"}).json["total"]
    to_april = ledger.get("/v1/metrics", area="recruitment", period="month",
                          **{"from": "2026-01-01", "to": "2026-04-30"}).json["total"]
    april = by_month["rows"][3]
    for name in additive:
        assert to_april[name] - to_march[name] == april[name]
    # Distinct counts are rounded by who they count: the same citizens, the same figure.
    assert by_month["total"]["citizens"] == by_quarter["total"]["citizens"] == recruitment[
        "citizens"]


def test_small_counts_round_to_zero_or_five_and_average_out(make_app: MakeApp) -> None:
    """Unbiased: over many small units the rounded counts add up to about the true ones."""
    ledger = Ledger(make_app("ledger"))
    events, truth = [], 0
    for unit in range(200):
        for n in range(unit % 4 + 1):
            truth += 1
            events.append(ev.activity("inspection", f"unit-{unit}",
                                      time=f"2026-0{n % 9 + 1}-03T09:00:00Z"))
    ledger.append(events)
    rows = ledger.get("/v1/metrics", area="inspection", group_by="org_unit", period="year",
                      **YEAR).json["rows"]
    # 500 activities, one in each month cell: each cell shows 0, or 5 with chance 1/5. A
    # unit is listed when it shows something: a unit whose cells all show 0 is not, as
    # one with nothing in the range is not.
    assert {r["activities"] for r in rows} <= {5, 10, 15, 20} and 0 < len(rows) < 200
    shown = sum(r["activities"] for r in rows)
    assert abs(shown - truth) < 5 * 2 * truth ** 0.5, (shown, truth)  # 5 sd of 2 per cell


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
                                       "2026-01-01", "--to", "2026-12-31", "--exact"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["period", "activities", "involved", "coverage"]
    q1 = lines[1].split()
    assert q1[:4] == ["2026-Q1", "3", "3", "100.0%"] and "77.9" in q1
    assert lines[5].split()[0] == "total" and "68.6" in lines[5].split()
    assert result.output.splitlines()[-1] == "Figures: exact."
    # Three tables within 100 columns, and a legend that tells hidden from not computable.
    assert max(len(line) for line in lines) <= 100
    assert [line.split()[:2] for line in lines if line.startswith("period")] == [
        ["period", "activities"], ["period", "citizens"], ["period", "step"]]
    assert any(line.startswith("* hidden") for line in lines)
    assert any(line.startswith("- not computable") for line in lines)
    rounded = CliRunner().invoke(main, ["report", "--area", "recruitment", "--from",
                                        "2026-01-01", "--to", "2026-12-31"])
    assert rounded.output.splitlines()[1].split()[1] in ("0", "5")
    assert rounded.output.splitlines()[-1] == (
        "Figures: cell key random rounding (base 5, threshold 10).")
    side_by_side = CliRunner().invoke(main, ["report", "--from", "2026-01-01", "--to",
                                             "2026-12-31", "--exact"])
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


def test_citizens_are_keyed_alike_from_the_aggregates_and_from_the_citizens(
        ledger: Ledger) -> None:
    """A calendar period reads its citizens' key sums off its aggregate row; any other
    range sums them over its citizens' sets. Both must give the same cell keys, so the
    same figure."""
    control = ledger.app.extensions["disclosure"]
    with ledger.app.extensions["db"].reading() as session:
        for area in ("recruitment", "training", "inspection"):
            for kind, periods in (("year", ["2026"]), ("quarter", ["2026-Q1", "2026-Q2"])):
                reader = Rounded(session, control, kind, periods)
                for unit, by in (("*", None), (None, "org_unit")):
                    kept = reader._aggregate_reach(area, unit, kind, periods[:1], by)
                    counted = Rounded(session, control, kind, periods[:1])._counted_reach(
                        area, unit, by)
                    assert kept == counted, (area, kind, unit)
                    assert kept, (area, kind, unit)
    # Real pseudonyms are p_ and 32 hex digits; the key reads the first six.
    assert citizen_key("p_00000f" + "0" * 26) == 15 and citizen_key("p_ffffff") == 2 ** 24 - 1
