"""Chart geometry and the figures as the dashboard shows them: plain Python."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from services.ledger import charts
from services.ledger.charts import Style, Value
from services.ledger.measures import last_twelve_months
from services.ledger.reports import period_label, shown

BLUE = Style(charts.BLUE)


@pytest.mark.parametrize(("value", "counts", "top"), [
    (0, False, 1), (0.8, False, 1), (1, True, 1), (2.3, False, 2.5), (2.3, True, 5),
    (7, True, 10), (14, False, 20), (796, False, 1000), (120, True, 200),
])
def test_a_scale_ends_on_a_round_number(value: float, counts: bool, top: float) -> None:
    assert charts.nice_max(value, counts) == top


@pytest.mark.parametrize("top", [1.0, 2.0, 5.0, 10.0, 20.0, 500.0])
def test_a_count_axis_has_whole_ticks_only(top: float) -> None:
    ticks = charts.ticks(top, str, counts=True)
    assert ticks[0][0] == 0 and ticks[-1][0] == top
    assert all(at == int(at) for at, _ in ticks)


def test_bars_are_scaled_and_a_suppressed_one_is_drawn_as_text_only() -> None:
    chart = charts.bar_chart([("7 Co-production", [Value(2, "2", BLUE)]),
                              ("6 Co-design", [Value(None, "suppressed", BLUE)]),
                              ("1 Coercion", [Value(0, "0", BLUE)])], 4, str)
    full = chart.plot_right - chart.plot_left
    two, hidden, zero = (row.bars[0] for row in chart.rows)
    assert two.width == pytest.approx(full / 2)
    assert hidden.missing and hidden.width == 0 and hidden.text == "suppressed"
    assert zero.width == 0 and not zero.missing
    assert [t.text for t in chart.ticks] == ["0.0", "1.0", "2.0", "3.0", "4.0"]
    assert two.y < hidden.y < zero.y < chart.axis_y < chart.height


def test_a_tiny_but_real_value_still_shows() -> None:
    [row] = charts.bar_chart([("x", [Value(0.001, "0.1%", BLUE)])], 1.0, str).rows
    assert row.bars[0].width >= 1.5


def test_a_line_breaks_where_a_value_is_missing() -> None:
    style = charts.area_styles(["recruitment", "training"])["training"]
    values = [Value(v, str(v), style) for v in (50, 60, None, 80)]
    chart = charts.line_chart(["a", "b", "c", "d"], [("training", style, values)], 100, str)
    [line] = chart.lines
    assert [len(run) for run in line.runs] == [2, 1]
    assert len(line.points) == 3
    assert line.points[0].y > line.points[1].y, "higher values are higher up"
    assert line.path(line.runs[0]).startswith("M")
    assert [label.lines for label in chart.x_labels] == [["a"], ["b"], ["c"], ["d"]]


def test_areas_are_styled_by_position_and_twelve_look_apart_without_colour() -> None:
    styles = list(charts.area_styles([f"area{n}" for n in range(24)]).values())
    assert styles[:3] == [Style(charts.BLUE, "circle", ""), Style(charts.ORANGE, "square", "6 3"),
                          Style(charts.GREEN, "triangle", "2 3")]
    assert len({(s.marker, s.dash) for s in styles[:12]}) == 12
    assert len(set(styles)) == 24


def test_the_cards_take_the_areas_colours_in_the_same_order() -> None:
    css = (Path(charts.__file__).parent / "assets" / "dashboard.css").read_text()
    first = re.search(r"^\.card \{ border-top: 6px solid (#\w+); \}", css, re.MULTILINE)
    others = re.findall(r"nth-child\(8n\+(\d)\) \{ border-top-color: (#\w+); \}", css)
    assert first and [first.group(1)] + [colour for _, colour in others] == list(
        charts.AREA_COLOURS)
    assert [int(n) for n, _ in others] == list(range(2, 9))


def test_figures_are_formatted_or_marked_suppressed() -> None:
    row = {"coverage": 0.66667, "index": 55.56, "hours": 1234.5, "citizens": 2,
           "median_step": 6.0, "involvements": None, "recognition_rate": None,
           "steps": {"7": 1, "6": None}, "suppressed": ["involvements", "steps.6"]}
    assert shown(row, "coverage").text == "66.7%"
    assert shown(row, "index").text == "55.6"
    assert shown(row, "hours").text == "1,234.5"
    assert shown(row, "citizens").text == "2"
    assert shown(row, "median_step").text == "6.0"
    assert shown(row, "involvements").suppressed
    assert shown(row, "steps.6").suppressed and shown(row, "steps.7").text == "1"
    assert shown(row, "recognition_rate").text == "–", "undefined is not suppressed"
    assert shown(None, "coverage").text == "–"


@pytest.mark.parametrize(("kind", "period", "long", "short", "first"), [
    ("month", "2026-03", "Mar 2026", "Mar", False), ("month", "2026-01", "Jan 2026",
                                                     "Jan\n2026", False),
    ("month", "2025-12", "Dec 2025", "Dec\n2025", True), ("quarter", "2026-Q2", "Q2 2026",
                                                          "Q2", False),
    ("year", "2026", "2026", "2026", False),
])
def test_periods_are_named_for_people(kind: str, period: str, long: str, short: str,
                                      first: bool) -> None:
    assert period_label(kind, period) == long
    assert period_label(kind, period, short=True, first=first) == short


@pytest.mark.parametrize(("today", "start", "end"), [
    (date(2026, 11, 28), date(2025, 12, 1), date(2026, 11, 30)),
    (date(2026, 12, 31), date(2026, 1, 1), date(2026, 12, 31)),
    (date(2024, 2, 10), date(2023, 3, 1), date(2024, 2, 29)),
])
def test_the_default_range_is_twelve_whole_months(today: date, start: date, end: date) -> None:
    assert last_twelve_months(today) == (start, end)

