"""The formulas of docs/metrics.md."""

from __future__ import annotations

import statistics
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ledger.measures import (
    Counts,
    citizen_moves,
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


MONTH_COUNTS = st.lists(st.integers(0, 3), min_size=12, max_size=12)


@given(MONTH_COUNTS, MONTH_COUNTS)
def test_a_citizens_year_row_moves_every_period_as_counting_it_afresh_would(
        before: list[int], after: list[int]) -> None:
    """Distinct and returning citizens of every month, quarter and year of the row, each
    counted from the months' sums before and after, move as citizen_moves says."""
    def counted(months: list[int]) -> dict[tuple[str, str], tuple[int, int]]:
        found = {}
        for m in range(12):
            day = date(2026, m + 1, 1)
            for kind in ("month", "quarter", "year"):
                period = period_of(day, kind)
                n = sum(months[k] for k in range(12)
                        if period_of(date(2026, k + 1, 1), kind) == period)
                found[kind, period] = (int(n > 0), int(n > 1))
        return found

    was, now = counted(before), counted(after)
    expected = {key: (now[key][0] - was[key][0], now[key][1] - was[key][1]) for key in now}
    moves = {(kind, period): (joined, returned)
             for kind, period, joined, returned in citizen_moves("2026", before, after)}
    assert moves == {key: move for key, move in expected.items() if move != (0, 0)}
