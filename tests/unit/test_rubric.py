"""Recruitment's rubric: the step on the ladder from the observable facts."""

from __future__ import annotations

import pytest

from services.recruitment.domain import RUBRIC
from shared.involvement import Facts, pseudonymise


def facts(**changes: object) -> Facts:
    base: dict[str, object] = {
        "stage": "interview_panel", "role": "panel_member", "from_start": False,
        "decision_power": "none", "feedback_given": False, "recognition": "none",
    }
    base.update(changes)
    return Facts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "step", "row"),
    [
        ({"decision_power": "equal_vote", "from_start": True, "feedback_given": True,
          "recognition": "payment"}, 7, "recruitment-7"),
        ({"decision_power": "lead", "stage": "role_specification", "feedback_given": True,
          "recognition": "declined"}, 7, "recruitment-7"),
        ({"decision_power": "equal_vote", "feedback_given": True, "recognition": "payment"},
         6, "recruitment-6a"),
        ({"decision_power": "advisory", "from_start": True}, 6, "recruitment-6b"),
        ({"decision_power": "advisory", "feedback_given": True}, 5, "recruitment-5"),
        ({"decision_power": "advisory", "recognition": "voucher"}, 4, "recruitment-4"),
        ({"feedback_given": True}, 3, "recruitment-3"),
        ({"role": "observer"}, 2, "recruitment-2"),
        ({}, 1, "recruitment-1"),
    ],
)
def test_each_row_of_the_rubric(changes: dict[str, object], step: int, row: str) -> None:
    assert RUBRIC.step(facts(**changes)) == (step, row)


def test_pseudonyms_are_keyed_and_stable() -> None:
    assert pseudonymise("k1", "CIT-1") == pseudonymise("k1", " CIT-1 ")
    assert pseudonymise("k1", "CIT-1") != pseudonymise("k2", "CIT-1")
    assert "CIT" not in pseudonymise("k1", "CIT-1")
