"""The formulas of docs/metrics.md."""

from __future__ import annotations

import statistics
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ledger.measures import (
    Counts,
    involvement_index,
    median_step,
    period_of,
)
from services.ledger.metrics import periods_between


def test_periods() -> None:
    assert [period_of(date(2026, 5, 9), k) for k in ("month", "quarter", "year")] == [
        "2026-05", "2026-Q2", "2026"]
    assert periods_between("quarter", date(2026, 2, 15), date(2026, 7, 1)) == [
        "2026-Q1", "2026-Q2", "2026-Q3"]
    assert periods_between("month", date(2025, 12, 1), date(2026, 1, 31)) == [
        "2025-12", "2026-01"]


def test_median_step() -> None:
    assert median_step([0, 1, 0, 1, 1, 1, 2]) == 5.5
    assert median_step([0] * 7) is None


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=7, max_size=7))
def test_median_step_from_the_histogram_is_the_median_of_every_involvement(
        steps: list[int]) -> None:
    values = [step for step, n in zip(range(1, 8), steps, strict=True) for _ in range(n)]
    expected = float(statistics.median(values)) if values else None
    assert median_step(steps) == expected


@pytest.mark.parametrize(("counts", "index"), [
    # Everyone at co-production, every activity covered, all recognised and told: 100.
    (Counts(activities=10, activities_involved=10, involvements=10, steps=[0] * 6 + [10],
            recognised=10, feedback=10), 100.0),
    # Half the activities covered, everyone at step 4 (depth 0.5), nothing back: 17.5.
    (Counts(activities=10, activities_involved=5, involvements=8, steps=[0, 0, 0, 8, 0, 0, 0]),
     17.5),
    # Activities but nobody involved: 0.
    (Counts(activities=3), 0.0),
    # Nothing to measure: no index.
    (Counts(), None),
])
def test_involvement_index(counts: Counts, index: float | None) -> None:
    assert involvement_index(counts) == index
