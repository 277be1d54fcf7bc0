"""Disclosure control's arithmetic: unbiased rounding, one draw per cell, thin figures hidden."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ledger.disclosure import Control, Reach, cell, figures, reach
from services.ledger.disclosure import counts as as_counts
from services.ledger.measures import Counts

CONTROL = Control(key=b"test-disclosure-key", base=5, threshold=10)
counts = st.integers(min_value=0, max_value=10_000)


@given(counts)
def test_rounding_is_unbiased_and_lands_on_a_neighbouring_multiple(value: int) -> None:
    # Over u uniform on [0, 1), the result is low + base with chance (value - low) / base.
    low = value - value % 5
    up = CONTROL.count(value, 0.0)
    down = CONTROL.count(value, 0.999999)
    assert {up, down} <= {low, low + 5}
    chance_up = Fraction(value - low, 5)
    assert low + 5 * chance_up == value
    if value % 5 == 0:
        assert up == down == value


@given(counts, counts, st.floats(min_value=0, max_value=0.999999))
def test_for_one_draw_rounding_keeps_order(a: int, b: int, u: float) -> None:
    small, large = sorted((a, b))
    assert CONTROL.count(small, u) <= CONTROL.count(large, u)


def test_a_small_count_never_shows_as_itself() -> None:
    for value in range(1, 5):
        seen = {CONTROL.count(value, i / 100) for i in range(100)}
        assert seen == {0, 5}


@given(st.lists(counts, min_size=7, max_size=7), counts, counts, counts)
def test_a_cell_keeps_its_parts_within_their_wholes(steps: list[int], activities: int,
                                                    extra: int, recognised: int) -> None:
    involved = min(activities, sum(steps))
    exact = (activities + extra, involved, sum(steps), *steps, 2.5 * sum(steps),
             min(recognised, sum(steps)), 0, 0, 0, 0, 0)
    rounded = cell(CONTROL, "training", "unit", "2026-03", exact)
    cell.cache_clear()
    assert rounded == cell(CONTROL, "training", "unit", "2026-03", exact)  # the same, always
    shown = as_counts(list(rounded))
    # One draw for the activities, the involvements and the steps: no part above its whole.
    assert all(n <= shown.involvements for n in shown.steps)
    assert shown.activities_involved <= shown.activities
    assert all(n % 5 == 0 for n in [shown.activities, *shown.steps, shown.recognised])
    assert shown.hours % 5 == 0


def test_what_involvements_hold_shows_nothing_when_they_show_nothing() -> None:
    """Hours, recognition, votes and feedback are rounded as shares of the rounded
    involvements: 0 when those round to 0, never above them, unbiased over many cells."""
    totals = [0.0] * 4
    for n in range(2000):
        # One involvement of 3.5 hours, recognised and told, with no vote.
        exact = (2, 1, 1, 0, 0, 1, 0, 0, 0, 0, 3.5, 1, 0, 1, 1, 0, 0)
        rounded = cell(CONTROL, "inspection", f"unit-{n}", "2026-05", exact)
        involvements = rounded[2]
        if not involvements:
            assert set(rounded[10:]) == {0}
        assert max(rounded[11:]) <= involvements
        totals = [t + v for t, v in zip(totals, rounded[10:14], strict=True)]
    # 2,000 cells of 3.5 hours, one recognised and told, no votes. Per cell the hours show
    # 0, 15 or 20 (sd about 7), the counts 0 or 5 (sd 2): within 4 sd of the mean.
    means = [t / 2000 for t in totals]
    assert abs(means[0] - 3.5) < 4 * 7 / 2000 ** 0.5
    assert means[1:] == pytest.approx([1.0, 0.0, 1.0], abs=4 * 2 / 2000 ** 0.5)


def test_the_same_citizens_round_the_same_and_returning_never_exceed_citizens() -> None:
    found = Reach(citizens=7, returning=6, citizens_key=123456, returning_key=654321)
    assert reach(CONTROL, "inspection", found) == reach(CONTROL, "inspection", found)
    for key in range(200):
        citizens, returning = reach(CONTROL, "inspection", Reach(3, 3, key, key * 7))
        assert citizens in (0, 5) and returning <= citizens


def test_figures_resting_on_too_few_are_hidden_and_named() -> None:
    rounded = Counts(activities=5, activities_involved=5, involvements=15,
                     steps=[0, 0, 0, 5, 5, 0, 5], hours=20.0, recognised=20, feedback=10)
    shown = figures(CONTROL, rounded)
    # 5 activities is under the threshold of 10: coverage and the index go.
    assert shown["coverage"] is None and shown["index"] is None
    assert set(shown["suppressed"]) == {"coverage", "index"}
    # Rounded one by one, 20 recognised can exceed 15 involvements: a share stays at most 1.
    assert shown["recognition_rate"] == 1.0 and shown["median_step"] == 5.0
    assert figures(CONTROL, Counts(activities=10))["index"] == 0.0
