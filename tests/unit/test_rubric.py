"""Each area's rubric, row by row, as docs/rubrics.md writes it down."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.inspection.domain import RUBRIC as INSPECTION
from services.recruitment.domain import RUBRIC as RECRUITMENT
from services.training.domain import RUBRIC as TRAINING
from shared.involvement import Facts, Rubric

RUBRICS = {"recruitment": RECRUITMENT, "training": TRAINING, "inspection": INSPECTION}
# A stage that is not the area's design stage, the design stage, and an observer role.
STAGES = {"recruitment": ("interview_panel", "role_specification", "observer"),
          "training": ("co_delivery", "curriculum_co_design", "observer"),
          "inspection": ("observation", "planning", "observer")}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "rubrics.md"

# (row suffix, facts that should land on it); "design" means the area's design stage.
ROWS = [
    ("7", {"decision_power": "equal_vote", "from_start": True, "feedback_given": True,
           "recognition": "payment"}),
    ("7", {"decision_power": "lead", "stage": "design", "feedback_given": True,
           "recognition": "declined"}),
    ("6a", {"decision_power": "equal_vote", "feedback_given": True, "recognition": "payment"}),
    ("6a", {"decision_power": "lead", "from_start": True, "feedback_given": True}),
    ("6b", {"decision_power": "advisory", "from_start": True}),
    ("6b", {"decision_power": "advisory", "stage": "design", "feedback_given": True}),
    ("5", {"decision_power": "advisory", "feedback_given": True, "recognition": "voucher"}),
    ("4", {"decision_power": "advisory", "recognition": "time_credit"}),
    ("3", {"feedback_given": True, "role": "observer"}),
    ("2", {"role": "observer", "recognition": "expenses_only"}),
    ("1", {"recognition": "payment"}),
    ("1", {}),
]


def facts(area: str, changes: dict[str, object]) -> Facts:
    stage, design, observer = STAGES[area]
    base: dict[str, object] = {"stage": stage, "role": "member", "from_start": False,
                               "decision_power": "none", "feedback_given": False,
                               "recognition": "none"}
    base.update(changes)
    if base["stage"] == "design":
        base["stage"] = design
    if base["role"] == "observer":
        base["role"] = observer
    return Facts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("area", list(RUBRICS))
@pytest.mark.parametrize(("row", "changes"), ROWS)
def test_each_row_of_each_rubric(area: str, row: str, changes: dict[str, object]) -> None:
    rubric = RUBRICS[area]
    step, rule = rubric.step(facts(area, changes))
    assert rule == f"{area}-{row}"
    assert step == int(row[0])


@pytest.mark.parametrize("area", list(RUBRICS))
def test_every_row_is_reachable_and_documented(area: str) -> None:
    rubric: Rubric = RUBRICS[area]
    covered = {f"{area}-{row}" for row, _ in ROWS}
    assert {row.id for row in rubric.rows} == covered
    text = DOCS.read_text()
    assert f"`{rubric.version}`" in text
    for row in rubric.rows:
        line = re.search(rf"^\| `{re.escape(row.id)}` \| {row.step} \|.*$", text, re.MULTILINE)
        assert line, f"{row.id} is missing from docs/rubrics.md"


def test_consultation_is_never_co_production() -> None:
    for area, rubric in RUBRICS.items():
        step, _ = rubric.step(facts(area, {"decision_power": "advisory", "from_start": True,
                                           "feedback_given": True, "recognition": "payment"}))
        assert step < 7
