"""The measures of involvement: plain Python.

docs/metrics.md gives the same formulas in words; an auditor can recompute every
figure from an export of entries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

PERIODS = ("month", "quarter", "year")
STEPS = tuple(range(1, 8))


def period_of(day: date, kind: str) -> str:
    if kind == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if kind == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}"


def citizen_moves(year: str, before: Sequence[int], after: Sequence[int]
                  ) -> Iterator[tuple[str, str, int, int]]:
    """How a citizen's involvements in each month of ``year`` (January first), from
    ``before`` to ``after``, move the distinct and the returning citizens of each
    month, quarter and year: ``(kind, period, joined, returned)`` where either moves.

    A citizen counts in a period with one involvement there, and returns with two.
    """
    quarters: set[int] = set()
    for m in range(12):
        if before[m] != after[m]:
            quarters.add(m // 3)
            yield from _moved("month", f"{year}-{m + 1:02d}", before[m], after[m])
    if not quarters:
        return
    for q in sorted(quarters):
        yield from _moved("quarter", f"{year}-Q{q + 1}", sum(before[3 * q:3 * q + 3]),
                          sum(after[3 * q:3 * q + 3]))
    yield from _moved("year", year, sum(before), sum(after))


def _moved(kind: str, period: str, before: int, after: int
           ) -> Iterator[tuple[str, str, int, int]]:
    joined, returned = (after > 0) - (before > 0), (after > 1) - (before > 1)
    if joined or returned:
        yield kind, period, joined, returned


def period_start(kind: str, period: str) -> date:
    year = int(period[:4])
    if kind == "month":
        return date(year, int(period[5:7]), 1)
    if kind == "quarter":
        return date(year, (int(period[-1]) - 1) * 3 + 1, 1)
    return date(year, 1, 1)


def last_twelve_months(today: date) -> tuple[date, date]:
    """Twelve whole calendar months, this one included: the first and the last day."""
    index = today.year * 12 + today.month - 1 - 11
    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return date(index // 12, index % 12 + 1, 1), following - timedelta(days=1)


@dataclass
class Counts:
    """The additive counters the measures are computed from."""

    activities: int = 0
    activities_involved: int = 0
    involvements: int = 0
    steps: list[int] = field(default_factory=lambda: [0] * 7)
    hours: float = 0.0
    recognised: int = 0
    votes: int = 0
    feedback: int = 0
    citizens: int = 0
    returning: int = 0
    told: int = 0
    changed: int = 0
    non_financial: int = 0
    # Involvements by days from involvement to being told, and by the rubric version
    # that scored them (weights: rounded figures spread them over fractions).
    feedback_days: dict[int, float] = field(default_factory=dict)
    rubrics: dict[str, float] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        """Add another period's counts; ``citizens`` and ``returning`` are not additive."""
        self.activities += other.activities
        self.activities_involved += other.activities_involved
        self.involvements += other.involvements
        self.hours += other.hours
        self.recognised += other.recognised
        self.votes += other.votes
        self.feedback += other.feedback
        self.told += other.told
        self.changed += other.changed
        self.non_financial += other.non_financial
        self.steps = [a + b for a, b in zip(self.steps, other.steps, strict=True)]
        for days, n in other.feedback_days.items():
            self.feedback_days[days] = self.feedback_days.get(days, 0) + n
        for version, n in other.rubrics.items():
            self.rubrics[version] = self.rubrics.get(version, 0) + n


def _share(part: float, whole: float) -> float | None:
    # At most 1: exact counts never put a part above its whole, rounded ones can
    # (services.ledger.disclosure).
    return round(min(part / whole, 1.0), 4) if whole else None


def median_step(steps: list[int]) -> float | None:
    """The median of the involvements' steps, read off the histogram in O(7)."""
    total = sum(steps)
    if not total:
        return None

    def nth(i: int) -> int:  # the step of the i-th involvement, 0-based, in step order
        seen = 0
        for step, n in zip(STEPS, steps, strict=True):
            seen += n
            if i < seen:
                return step
        raise AssertionError("unreachable: i < total")

    return (nth((total - 1) // 2) + nth(total // 2)) / 2


def weighted_median(histogram: dict[int, float]) -> float | None:
    """The median of values held with weights (counts, or fractions of them)."""
    values = sorted(v for v, w in histogram.items() if w > 0)
    total = sum(histogram[v] for v in values)
    seen = 0.0
    for n, value in enumerate(values):
        seen += histogram[value]
        if seen > total / 2:
            return float(value)
        if seen == total / 2:
            return (value + values[n + 1]) / 2
    return None


def involvement_index(c: Counts) -> float | None:
    """0-100: coverage x (0.7 depth + 0.3 reciprocity). See docs/metrics.md."""
    if not c.activities:
        return None
    coverage = min(c.activities_involved / c.activities, 1.0)
    if not c.involvements:
        return 0.0
    # The mean of the steps' own histogram: its total is the involvements, unless the
    # figures were rounded, when each step and the involvements round on their own.
    steps = sum(c.steps)
    mean_step = sum(s * n for s, n in zip(STEPS, c.steps, strict=True)) / steps if steps else 1
    depth = (mean_step - 1) / 6
    reciprocity = min((c.recognised + c.feedback) / (2 * c.involvements), 1.0)
    return round(100 * coverage * (0.7 * depth + 0.3 * reciprocity), 1)


def measures(c: Counts) -> dict[str, Any]:
    """Every published figure of ``c``, as it is: exact, or rounded if ``c`` was."""
    return {
        "activities": c.activities,
        "activities_involved": c.activities_involved,
        "coverage": _share(c.activities_involved, c.activities),
        "involvements": c.involvements,
        "steps": {str(s): n for s, n in zip(STEPS, c.steps, strict=True)},
        "median_step": median_step(c.steps),
        "co_design_or_higher": _share(c.steps[5] + c.steps[6], sum(c.steps)),
        "co_production": _share(c.steps[6], sum(c.steps)),
        "citizens": c.citizens,
        "returning_citizens": c.returning,
        "hours": round(c.hours, 2),
        "recognition_rate": _share(c.recognised, c.involvements),
        "decision_vote_share": _share(c.votes, c.involvements),
        "feedback_rate": _share(c.feedback, c.involvements),
        "told": c.told,
        "told_rate": _share(c.told, c.involvements),
        "changed": c.changed,
        "change_rate": _share(c.changed, c.involvements),
        "median_days_to_feedback": weighted_median(c.feedback_days),
        "non_financial_share": _share(c.non_financial, c.recognised),
        "rubric_versions": sorted(v for v, n in c.rubrics.items() if n > 0),
        "index": involvement_index(c),
    }
