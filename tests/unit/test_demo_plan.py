"""The demo's year: valid commands for each area, dated within the year, getting better."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services import area_packages, demo
from shared import areas
from shared.area.schemas import AreaSchemas
from shared.involvement import FACT_NAMES, Facts

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SCHEMAS: dict[str, AreaSchemas] = {name: area_packages.part(name, "api").SCHEMAS
                                   for name in areas.names()}


@pytest.fixture(scope="module")
def plan() -> demo.Plan:
    """The default year, up to a fixed now."""
    return demo.plan_year(NOW, seed=7)


def test_the_same_seed_gives_the_same_year(plan: demo.Plan) -> None:
    again = demo.plan_year(NOW, seed=7)
    assert [c.data for _, c in demo.commands(again)] == [c.data for _, c in demo.commands(plan)]
    other = demo.plan_year(NOW, seed=8)
    assert [c.data for _, c in demo.commands(other)] != [c.data for _, c in demo.commands(plan)]


def test_every_area_has_its_year_and_every_command_is_one_its_area_accepts(
        plan: demo.Plan) -> None:
    assert {story.area for story in plan.stories} == set(areas.names())
    for area, command in demo.commands(plan):
        SCHEMAS[area].load_for(command.type, dict(command.data))
    # What an activity refers to is set up first: each session's course.
    courses = {item.body["id"] for item in plan.setup["training"]}
    assert {c.data["course_id"] for area, c in demo.commands(plan)
            if area == "training" and c.type == "activity.recorded"} <= courses


def test_everything_happens_within_the_last_twelve_months_and_none_in_the_future(
        plan: demo.Plan) -> None:
    times = [datetime.fromisoformat(c.data["occurred_at"]) for _, c in demo.commands(plan)
             if "occurred_at" in c.data]
    assert min(times) >= datetime(2025, 12, 1, tzinfo=UTC)
    assert max(times) < NOW
    assert len({(t.year, t.month) for t in times}) == 12


def test_a_year_has_every_kind_of_event_and_returning_citizens(plan: demo.Plan) -> None:
    types = {c.type for _, c in demo.commands(plan)}
    assert types == {"activity.recorded", "involvement.recorded", "involvement.corrected",
                     "involvement.withdrawn", "activity.cancelled", "impact.recorded"}
    refs = [c.data["citizen_ref"] for _, c in demo.commands(plan) if "citizen_ref" in c.data]
    assert len(set(refs)) < len(refs)
    assert 700 <= len(plan.stories) <= 1000


def _share(items: list[dict[str, Any]], test: Any) -> float:
    return sum(1 for i in items if test(i)) / len(items)


def test_the_organisation_gets_better_over_the_year(plan: demo.Plan) -> None:
    involvements = [c.data for _, c in demo.commands(plan) if c.type == "involvement.recorded"]
    early = [i for i in involvements if i["occurred_at"] < "2026-04-01"]
    late = [i for i in involvements if i["occurred_at"] >= "2026-08-01"]

    def power(i: dict[str, Any]) -> bool:
        return bool(i["decision_power"] in ("equal_vote", "lead"))

    def told(i: dict[str, Any]) -> bool:
        return bool(i["feedback_given"])

    assert _share(late, power) > _share(early, power)
    assert _share(late, told) > _share(early, told)


def test_every_step_of_the_ladder_is_in_every_area(plan: demo.Plan) -> None:
    """Each planned involvement read by its area's rubric, as the area service reads it."""
    steps: dict[str, set[int]] = {name: set() for name in areas.names()}
    for area, command in demo.commands(plan):
        if command.type == "involvement.recorded":
            rubric = area_packages.domain(area).rubric
            data = command.data
            part = data.get("part") or rubric.default_part(
                data["stage"], data["role"], data["decision_power"], data["from_start"])
            facts = Facts(**{name: data[name] for name in FACT_NAMES if name in data
                             and name not in ("part", "influence")},
                          part=part, influence=data.get("influence", "unknown"))
            steps[area].add(rubric.step(facts)[0])
    assert steps == {name: set(range(1, 8)) for name in areas.names()}


def test_a_month_of_an_area_is_rarely_too_thin_to_show(plan: demo.Plan) -> None:
    """An area's month shows its index unless its activities or involvements round under
    10: counted exactly here, before cancellations and withdrawals, over the whole
    months (the one under way is not in the dashboard's default range)."""
    cells: dict[tuple[str, str], list[int]] = {}
    for area, command in demo.commands(plan):
        month = command.data.get("occurred_at", "")[:7]
        if command.type in ("activity.recorded", "involvement.recorded") and \
                month != NOW.strftime("%Y-%m"):
            counts = cells.setdefault((area, month), [0, 0])
            counts[command.type == "involvement.recorded"] += 1
    thin = [cell for cell, (acts, invs) in cells.items() if min(acts, invs) < 10]
    assert len(cells) >= 11 * len(areas.names())
    assert len(thin) <= 0.1 * len(cells), sorted(thin)
