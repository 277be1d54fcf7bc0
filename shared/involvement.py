"""What every area's involvement carries, and the ladder it is measured on.

Plain Python: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

RECOGNITION = ("payment", "voucher", "time_credit", "expenses_only", "declined", "none")
DECISION_POWER = ("none", "advisory", "equal_vote", "lead")

# TLAP / National Co-production Advisory Group (2016).
LADDER = {
    1: "coercion",
    2: "educating",
    3: "informing",
    4: "consultation",
    5: "engagement",
    6: "co-design",
    7: "co-production",
}


@dataclass(frozen=True)
class Facts:
    """The observable facts the step is derived from."""

    stage: str
    role: str
    from_start: bool
    decision_power: str
    feedback_given: bool
    recognition: str

    @property
    def recognition_offered(self) -> bool:
        # "declined" was offered and turned down: it still counts as offered.
        return self.recognition != "none"

    @property
    def shares_decision(self) -> bool:
        return self.decision_power in ("equal_vote", "lead")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Row:
    """One row of a rubric: if ``when`` holds, the involvement is at ``step``."""

    id: str
    step: int
    rule: str
    when: Callable[[Facts], bool]


@dataclass(frozen=True)
class Rubric:
    """An area's versioned rubric; the first matching row decides the step."""

    area: str
    version: str
    rows: tuple[Row, ...]

    def step(self, facts: Facts) -> tuple[int, str]:
        for row in self.rows:
            if row.when(facts):
                return row.step, row.id
        raise AssertionError("a rubric ends with a row that always matches")


def ladder_rubric(area: str, version: str, design_stages: tuple[str, ...],
                  observer_roles: tuple[str, ...]) -> Rubric:
    """The ladder, read from the facts, with an area's own stages and roles.

    Citizens at one of the area's ``design_stages`` were there from the start by
    definition. ``observer_roles`` are present to learn, not to decide.
    """

    def start(f: Facts) -> bool:
        return f.from_start or f.stage in design_stages

    return Rubric(area, version, (
        Row(f"{area}-7", 7, "shares the decision (equal vote or lead), from the start, told "
            "the outcome, recognition offered",
            lambda f: f.shares_decision and start(f) and f.feedback_given
            and f.recognition_offered),
        Row(f"{area}-6a", 6, "shares the decision, but not from design to delivery",
            lambda f: f.shares_decision),
        Row(f"{area}-6b", 6, "advisory, and involved from the start (design)",
            lambda f: f.decision_power == "advisory" and start(f)),
        Row(f"{area}-5", 5, "advisory, and told the outcome",
            lambda f: f.decision_power == "advisory" and f.feedback_given),
        Row(f"{area}-4", 4, "advisory only: views asked for, no loop closed",
            lambda f: f.decision_power == "advisory"),
        Row(f"{area}-3", 3, "no decision power, told the outcome and why",
            lambda f: f.feedback_given),
        Row(f"{area}-2", 2, "no decision power, present to learn how it is done",
            lambda f: f.role in observer_roles),
        Row(f"{area}-1", 1, "no decision power, no feedback: a passive attendee",
            lambda f: True),
    ))
