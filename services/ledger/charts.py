"""Chart geometry for the dashboard's server-rendered SVG: plain Python, no Flask.

Everything here turns numbers into positions; the templates draw them. Colours
are the Okabe-Ito palette, which stays distinct under the common kinds of colour
blindness, and no chart relies on colour alone: every bar carries its value as
text, every line has its own marker and dash, and every chart has a data table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Okabe & Ito (2008), "Color Universal Design".
BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, YELLOW, BLACK = "#56B4E9", "#CC79A7", "#F0E442", "#000000"


@dataclass(frozen=True)
class Style:
    """How one series looks: a colour, a marker and a dash, so colour is never alone."""

    colour: str
    marker: str = "circle"  # circle, square or triangle
    dash: str = ""  # an SVG stroke-dasharray; "" is solid


# The areas take these in turn, in the order they are declared (dashboard.css gives the
# cards the same colours): eight colours, yellow (faint on white) last; three markers and
# four dashes, so that twelve areas look apart without colour, and twenty-four with it.
AREA_COLOURS = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, BLACK, YELLOW)
MARKERS = ("circle", "square", "triangle")
DASHES = ("", "6 3", "2 3", "8 3 2 3")


def area_styles(names: Sequence[str]) -> dict[str, Style]:
    """A style for each area, by its position."""
    return {name: Style(AREA_COLOURS[i % len(AREA_COLOURS)], MARKERS[i % len(MARKERS)],
                        DASHES[i % len(DASHES)]) for i, name in enumerate(names)}


# The ladder in three bands: not yet involvement, being asked, sharing power.
STEP_BANDS = ((range(1, 4), VERMILLION, "Coercion to informing (1-3)"),
              (range(4, 6), ORANGE, "Consultation and engagement (4-5)"),
              (range(6, 8), BLUE, "Co-design and co-production (6-7)"))


def step_colour(step: int) -> str:
    return next(colour for steps, colour, _ in STEP_BANDS if step in steps)


@dataclass(frozen=True)
class Value:
    """One number to draw: ``value`` None when it is suppressed or undefined."""

    value: float | None
    text: str
    style: Style
    series: str = ""


@dataclass(frozen=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    text: str
    text_x: float
    text_y: float
    missing: bool
    series: str


@dataclass(frozen=True)
class Row:
    label: str
    label_y: float
    bars: list[Bar]


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, in groups of one or more (one per series)."""

    width: float
    height: float
    plot_left: float
    plot_right: float
    axis_y: float
    rows: list[Row]
    ticks: list[Tick]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Line:
    name: str
    style: Style
    # Runs of consecutive points; a missing value breaks the line.
    runs: list[list[Point]]
    points: list[Point]

    def path(self, run: list[Point]) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}"
                        for i, p in enumerate(run))


@dataclass(frozen=True)
class Label:
    x: float
    lines: list[str]


@dataclass(frozen=True)
class LineChart:
    width: float
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    x_labels: list[Label]
    ticks: list[Tick]
    lines: list[Line]
    columns: list[Bar] = field(default_factory=list)


def nice_max(value: float, counts: bool = False) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (1 for 0).

    For ``counts`` 2.5 is skipped, so that every tick (see ``ticks``) is a whole number.
    """
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10) if counts else (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return float(step * power)
    return float(10 * power)


def ticks(top: float, fmt: Callable[[float], str],
          counts: bool = False) -> list[tuple[float, str]]:
    """Evenly spaced ticks from 0 to ``top``; whole numbers only, for ``counts``."""
    n = int(top) if counts and top <= 5 else 5 if counts else 4
    return [(top * i / n, fmt(top * i / n)) for i in range(n + 1)]


def bar_chart(rows: Sequence[tuple[str, Sequence[Value]]], top: float,
              fmt: Callable[[float], str], *, width: float = 640, label_width: float = 150,
              bar_height: float = 18, text_room: float = 96, counts: bool = False) -> BarChart:
    """Rows of horizontal bars scaled to [0, top], each bar with its value as text."""
    plot_left, plot_right = label_width, width - text_room
    span = plot_right - plot_left
    y = 8.0
    laid: list[Row] = []
    for label, values in rows:
        bars = []
        group_top = y
        for v in values:
            length = 0.0 if v.value is None else max(span * min(v.value / top, 1.0), 0.0)
            if v.value:
                length = max(length, 1.5)  # a real but tiny value still shows
            bars.append(Bar(x=plot_left, y=y, width=length, height=bar_height,
                            colour=v.style.colour, text=v.text, text_x=plot_left + length + 5,
                            text_y=y + bar_height * 0.72, missing=v.value is None,
                            series=v.series))
            y += bar_height + 2
        laid.append(Row(label, (group_top + y - 2) / 2 + 4, bars))
        y += 10
    axis_y = y - 4
    scale = [Tick(plot_left + span * at / top, text) for at, text in ticks(top, fmt, counts)]
    return BarChart(width, axis_y + 22, plot_left, plot_right, axis_y, laid, scale)


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[Label]:
    return [Label(x, text.split("\n")) for text, x in zip(labels, xs, strict=True)]


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Style, Sequence[Value]]],
               top: float, fmt: Callable[[float], str], *, width: float = 640,
               height: float = 260) -> LineChart:
    """Lines over periods scaled to [0, top]; a missing value leaves a gap."""
    left, right, plot_top, bottom = 52.0, width - 16, 12.0, height - 40
    step = (right - left) / max(len(labels), 1)
    xs = [left + step * (i + 0.5) for i in range(len(labels))]

    def y_of(value: float) -> float:
        return bottom - (bottom - plot_top) * min(value / top, 1.0)

    lines = []
    for name, style, values in series:
        runs: list[list[Point]] = [[]]
        points = []
        for x, v in zip(xs, values, strict=True):
            if v.value is None:
                if runs[-1]:
                    runs.append([])
                continue
            point = Point(x, y_of(v.value), v.text)
            runs[-1].append(point)
            points.append(point)
        lines.append(Line(name, style, [r for r in runs if r], points))
    scale = [Tick(y_of(at), text) for at, text in ticks(top, fmt)]
    return LineChart(width, height, left, right, plot_top, bottom, _x_labels(labels, xs),
                     scale, lines)


def column_chart(labels: Sequence[str], values: Sequence[Value], top: float,
                 fmt: Callable[[float], str], *, width: float = 640,
                 height: float = 220) -> LineChart:
    """Vertical bars over periods, each with its value above it."""
    left, right, plot_top, bottom = 52.0, width - 16, 16.0, height - 40
    step = (right - left) / max(len(labels), 1)
    xs = [left + step * (i + 0.5) for i in range(len(labels))]
    bar_width = min(step * 0.6, 48)
    columns = []
    for x, v in zip(xs, values, strict=True):
        h = 0.0 if v.value is None else (bottom - plot_top) * min(v.value / top, 1.0)
        if v.value:
            h = max(h, 1.5)
        columns.append(Bar(x=x - bar_width / 2, y=bottom - h, width=bar_width, height=h,
                           colour=v.style.colour, text=v.text, text_x=x,
                           text_y=bottom - h - 4, missing=v.value is None, series=v.series))
    scale = [Tick(bottom - (bottom - plot_top) * at / top, text)
             for at, text in ticks(top, fmt)]
    return LineChart(width, height, left, right, plot_top, bottom, _x_labels(labels, xs),
                     scale, [], columns)
