"""What the dashboard's pages show: the measures of services.ledger.metrics, shaped
for reading, with their charts. Disclosure control is exactly the API's: the figures
come from the same function, under the same control for the same reader.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from services.ledger import charts, targets
from services.ledger.charts import STEP_BANDS, Style, Value, area_styles
from services.ledger.disclosure import Control
from services.ledger.domain import AREAS
from services.ledger.followers import MEASURES
from services.ledger.measures import period_start
from services.ledger.metrics import MetricsQuery, metrics, next_start, periods_between
from services.ledger.models import Aggregate, FollowerPosition, TreeHeadRow
from services.ledger.projection import ALL_UNITS
from services.ledger.signing import TreeHead
from services.ledger.tree import latest_head
from shared.db import Database

STEP_NAMES = {1: "Coercion", 2: "Educating", 3: "Informing", 4: "Consultation",
              5: "Engagement", 6: "Co-design", 7: "Co-production"}
SHARES = ("coverage", "co_design_or_higher", "co_production", "recognition_rate",
          "decision_vote_share", "feedback_rate", "told_rate", "change_rate",
          "non_financial_share")
LABELS = {
    "activities": "Activities", "activities_involved": "Activities with citizens",
    "coverage": "Coverage", "involvements": "Involvements", "median_step": "Median step",
    "co_design_or_higher": "Co-design or higher", "co_production": "Co-production",
    "citizens": "Citizens", "returning_citizens": "Returning citizens", "hours": "Hours",
    "recognition_rate": "Recognition offered", "decision_vote_share": "Decision vote",
    "feedback_rate": "Feedback given", "index": "Involvement Index",
    "told_rate": "Told what came of it", "change_rate": "Led to a change",
    "median_days_to_feedback": "Days until told (median)",
    "non_financial_share": "By time credit",
}
MONTHS = calendar.month_abbr
AREA_STYLES = area_styles(AREAS)


@dataclass(frozen=True)
class Filters:
    period: str
    start: date
    end: date
    org_unit: str | None = None

    def query(self, **kwargs: Any) -> MetricsQuery:
        return MetricsQuery(start=self.start, end=self.end, period=self.period, **kwargs)

    def before(self) -> Filters:
        """What a change is against: as many whole periods just before the ones the range
        overlaps (the figures count whole periods: metrics.md, "Periods and ranges")."""
        periods = periods_between(self.period, self.start, self.end)
        first = period_start(self.period, periods[0])
        # Every period is a whole number of months: step back that many.
        months = 12 * (next_start(self.period, periods[-1]).year - first.year) + \
            next_start(self.period, periods[-1]).month - first.month
        back = 12 * first.year + first.month - 1 - months
        return replace(self, start=date(back // 12, back % 12 + 1, 1),
                       end=first - timedelta(days=1))

    def coarser(self) -> str | None:
        """The next longer period (month: quarter; quarter: year), or None after a year."""
        return {"month": "quarter", "quarter": "year"}.get(self.period)

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of these filters, with ``changes`` (None drops a key)."""
        values: dict[str, Any] = {"period": self.period, "from": self.start.isoformat(),
                                  "to": self.end.isoformat(), "org_unit": self.org_unit}
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Shown:
    text: str
    suppressed: bool = False


def raw(row: dict[str, Any], name: str) -> Any:
    """A figure of a metrics row by name; ``steps.7`` is a step's count."""
    return row["steps"][name[6:]] if name.startswith("steps.") else row.get(name)


def shown(row: dict[str, Any] | None, name: str) -> Shown:
    """One figure as the page shows it: formatted, or marked as suppressed."""
    if row is None:
        return Shown("–")
    value = raw(row, name)
    if name in row.get("suppressed", []):
        return Shown("suppressed", True)
    if value is None:
        return Shown("–")
    if name in SHARES:
        return Shown(f"{100 * value:.1f}%")
    if name in ("index", "median_step", "median_days_to_feedback"):
        return Shown(f"{value:.1f}")
    if name == "hours":
        return Shown(f"{value:,.1f}")
    return Shown(f"{int(value):,}")


def period_label(kind: str, period: str, *, short: bool = False, first: bool = True) -> str:
    """'2026-03' as 'Mar 2026'; in a chart, the year only where it changes."""
    if kind == "year":
        return period
    year = period[:4]
    name = MONTHS[int(period[5:7])] if kind == "month" else period[5:]
    if not short:
        return f"{name} {year}"
    new_year = first or name in ("Jan", "Q1")
    return f"{name}\n{year}" if new_year else name


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _value(row: dict[str, Any], name: str, style: Style, series: str = "",
           scale: Callable[[float], float] = lambda v: v) -> Value:
    value = raw(row, name)
    text = shown(row, name).text
    return Value(None if value is None else scale(value), text, style, series)


def step_share(row: dict[str, Any], step: int) -> tuple[float | None, bool]:
    """The share of an area's involvements at one step, and whether it is hidden: as
    co-production's share is, which rests on the same involvements. None when there is
    nothing to divide by."""
    if "co_production" in row["suppressed"]:
        return None, True
    count, total = row["steps"][str(step)], row["involvements"]
    return (count / total if total else None), False


def _step_share(row: dict[str, Any], step: int, style: Style, series: str) -> Value:
    share, hidden = step_share(row, step)
    text = "suppressed" if hidden else "–" if share is None else f"{100 * share:.1f}%"
    return Value(share, text, style, series)


@dataclass(frozen=True)
class Change:
    """A headline figure against the same range just before: "up 4.1 points"."""

    text: str
    direction: str  # "up", "down", "same", or "none" where there is nothing to compare


def change(now: dict[str, Any] | None, before: dict[str, Any] | None, name: str) -> Change:
    """The change of a share (in percentage points) or of the index (in points); none
    where either figure is hidden or there is nothing to measure."""
    figure, earlier = (None if row is None or name in row["suppressed"] else raw(row, name)
                       for row in (now, before))
    if figure is None or earlier is None:
        return Change("no earlier figure to compare", "none")
    scale = 100 if name in SHARES else 1
    delta = round(scale * (figure - earlier), 1)
    if delta == 0:
        return Change("the same as the range before", "same")
    points = "percentage points" if name in SHARES else "points"
    return Change(f"{'up' if delta > 0 else 'down'} {abs(delta):.1f} {points} on the range "
                  "before", "up" if delta > 0 else "down")


def mostly_hidden(rows: list[dict[str, Any]], name: str = "index") -> bool:
    """More than half of the periods with activities have ``name`` hidden: the page
    should offer a longer period, where more falls in each."""
    measured = [r for r in rows if r.get("activities")]
    hidden = [r for r in measured if name in r["suppressed"]]
    return bool(measured) and 2 * len(hidden) > len(measured)


# -- the comparison of areas ----------------------------------------------------------


def overview(db: Database, filters: Filters, control: Control | None) -> dict[str, Any]:
    """The areas side by side, over the range, and their Involvement Index over time."""
    side = metrics(db, filters.query(group_by="area"), control)
    areas = {row["area"]: row for row in side["rows"]}
    series = {area: metrics(db, filters.query(area=area), control) for area in AREAS}
    periods = side["periods"]
    labels = [period_label(filters.period, p, short=True, first=i == 0)
              for i, p in enumerate(periods)]
    shares = charts.bar_chart(
        [(LABELS[name], [_value(areas[a], name, AREA_STYLES[a], a) for a in AREAS])
         for name in SHARES], 1.0, _percent, width=760, text_room=150)
    ladder = charts.bar_chart(
        [(f"{step} {STEP_NAMES[step]}",
          [_step_share(areas[a], step, AREA_STYLES[a], a) for a in AREAS])
         for step in range(7, 0, -1)], 1.0, _percent, width=760, text_room=150)
    trend = charts.line_chart(
        labels, [(a, AREA_STYLES[a], [_value(r, "index", AREA_STYLES[a], a)
                                      for r in series[a]["rows"]]) for a in AREAS],
        100, _count)
    before = {row["area"]: row for row in metrics(
        db, filters.before().query(group_by="area"), control)["rows"]}
    step_shares = {a: {s: _step_share(areas[a], s, AREA_STYLES[a], a) for s in range(1, 8)}
                   for a in AREAS}
    return {"areas": areas, "series": series, "periods": periods, "shares": shares,
            "ladder": ladder, "trend": trend, "styles": AREA_STYLES,
            "step_shares": step_shares,
            "changes": {a: {name: change(areas[a], before.get(a), name)
                            for name in ("coverage", "index")} for a in AREAS},
            "mostly_hidden": any(mostly_hidden(series[a]["rows"]) for a in AREAS)}


# -- one area ---------------------------------------------------------------------------

INDEX_STYLE = Style(charts.BLUE, "circle", "")
COVERAGE_STYLE = Style(charts.ORANGE, "square", "6 3")
HOURS_STYLE = Style(charts.GREEN)


def area_report(db: Database, area: str, filters: Filters,
                control: Control | None) -> dict[str, Any]:
    """One area (one unit, or all) over the range: headline, ladder, trend, units."""
    series = metrics(db, filters.query(area=area, org_unit=filters.org_unit), control)
    units = metrics(db, filters.query(area=area, group_by="org_unit"), control)
    total, rows = series["total"], series["rows"]
    labels = [period_label(filters.period, r["period"], short=True, first=i == 0)
              for i, r in enumerate(rows)]
    counts = [v for v in total["steps"].values() if v is not None]
    ladder = charts.bar_chart(
        [(f"{step} {STEP_NAMES[step]}",
          [_value(total, f"steps.{step}", Style(charts.step_colour(step)))])
         for step in range(7, 0, -1)], charts.nice_max(max(counts, default=0), counts=True),
        _count, counts=True)
    trend = charts.line_chart(labels, [
        ("Involvement Index", INDEX_STYLE, [_value(r, "index", INDEX_STYLE) for r in rows]),
        ("Coverage (%)", COVERAGE_STYLE,
         [_value(r, "coverage", COVERAGE_STYLE, scale=lambda v: 100 * v) for r in rows]),
    ], 100, _count)
    hours = [r["hours"] for r in rows if r["hours"] is not None]
    hours_chart = charts.column_chart(
        labels, [_value(r, "hours", HOURS_STYLE) for r in rows],
        charts.nice_max(max(hours, default=0)), _count)
    per_unit = [u for u in units["rows"] if u["org_unit"] != ALL_UNITS]
    units_chart = charts.bar_chart(
        [(_short(u["org_unit"]),
          [_value(u, "coverage", COVERAGE_STYLE, "coverage", scale=lambda v: 100 * v),
           _value(u, "index", INDEX_STYLE, "index")]) for u in per_unit],
        100, _count, width=760, text_room=170) if per_unit else None
    names = sorted({r["org_unit"] for r in units["rows"]} | (
        {filters.org_unit} if filters.org_unit else set()))
    before = metrics(db, filters.before().query(area=area, org_unit=filters.org_unit),
                     control)["total"]
    aims = targets.against(targets.list_targets(db, area, filters.org_unit), total)
    return {"area": area, "series": series, "total": total, "rows": rows,
            "targets": aims, "target_of": {a.measure: a for a in aims},
            "changes": {name: change(total, before, name) for name in ("coverage", "index")},
            "mostly_hidden": mostly_hidden(rows),
            "units": units["rows"], "unit_names": [u for u in names if u != ALL_UNITS],
            "ladder": ladder, "trend": trend, "hours": hours_chart, "units_chart": units_chart,
            "bands": STEP_BANDS, "index_style": INDEX_STYLE,
            "coverage_style": COVERAGE_STYLE}


def _short(label: str, most: int = 22) -> str:
    """A label that fits a chart's margin; the table beside it has it whole."""
    return label if len(label) <= most else label[:most - 1] + "…"


def units_of(db: Database, area: str) -> list[str]:
    """The organisational units the area has ever had measures for, by name."""
    with db.reading() as session:
        return list(session.scalars(
            sa.select(Aggregate.org_unit).where(Aggregate.area == area,
                                                Aggregate.org_unit != ALL_UNITS)
            .distinct().order_by(Aggregate.org_unit)))


@dataclass(frozen=True)
class Basis:
    """What a page's figures were computed from: the entries the measures had applied,
    and the signed tree head of exactly that size, if the log has one."""

    applied: int
    head: TreeHead | None
    latest: TreeHead | None

    @property
    def exact(self) -> bool:
        return self.head is not None


def basis(db: Database) -> Basis:
    """The measures follower's position, with the signed head at it and the latest."""
    with db.reading() as session:
        applied = int(session.scalar(sa.select(FollowerPosition.position).where(
            FollowerPosition.name == MEASURES)) or 0)
        at = session.execute(sa.select(
            TreeHeadRow.size, TreeHeadRow.timestamp, TreeHeadRow.root_hash,
            TreeHeadRow.signature).where(TreeHeadRow.size == applied)).first()
        return Basis(applied, None if at is None else TreeHead(*at),
                     latest_head(session.connection()))
