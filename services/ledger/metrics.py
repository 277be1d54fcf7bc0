"""Reading the measures: per area, org unit and period, over a time range.

Everything here reads the aggregate tables that the append keeps up to date; no
request scans the entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from services.ledger.domain import AREAS
from services.ledger.measures import Counts, measures, period_of, period_start, suppress
from services.ledger.models import Aggregate, CitizenPeriod
from services.ledger.projection import ALL_UNITS
from shared.db import Database

GROUPS = ("period", "area", "org_unit")


@dataclass(frozen=True)
class MetricsQuery:
    start: date
    end: date
    area: str | None = None
    org_unit: str | None = None
    period: str = "quarter"
    group_by: str = "period"


def periods_between(kind: str, start: date, end: date) -> list[str]:
    """Every period of ``kind`` that overlaps [start, end], in order."""
    found: list[str] = []
    month = date(start.year, start.month, 1)
    while month <= end:
        key = period_of(month, kind)
        if not found or found[-1] != key:
            found.append(key)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return found


# The counter columns, read as plain rows: no ORM objects on the request path.
COUNTERS = (Aggregate.activities, Aggregate.activities_involved, Aggregate.involvements,
            *(getattr(Aggregate, f"step_{n}") for n in range(1, 8)), Aggregate.hours,
            Aggregate.recognised, Aggregate.votes, Aggregate.feedback, Aggregate.citizens,
            Aggregate.returning_citizens)


def _counts(row: sa.Row[Any]) -> Counts:
    return Counts(activities=row.activities, activities_involved=row.activities_involved,
                  involvements=row.involvements,
                  steps=[row.step_1, row.step_2, row.step_3, row.step_4, row.step_5,
                         row.step_6, row.step_7], hours=row.hours,
                  recognised=row.recognised, votes=row.votes, feedback=row.feedback,
                  citizens=row.citizens, returning=row.returning_citizens)


def _one_period(start: date, end: date) -> tuple[str, str] | None:
    """The single calendar year, quarter or month that is exactly [start, end], if any."""
    for kind in ("year", "quarter", "month"):
        periods = periods_between(kind, start, end)
        if len(periods) == 1 and period_start(kind, periods[0]) == start:
            following = date(end.year + end.month // 12, end.month % 12 + 1, 1)
            if following == _next_start(kind, periods[0]) and end.day == (
                    following - timedelta(days=1)).day:
                return kind, periods[0]
    return None


def _next_start(kind: str, period: str) -> date:
    first = period_start(kind, period)
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class Reader:
    def __init__(self, session: sa.orm.Session, kind: str, periods: list[str],
                 start: date, end: date) -> None:
        self.session = session
        self.kind = kind
        self.periods = periods
        self.exact = _one_period(start, end)

    def _rows(self, area: str, kind: str, periods: list[str],
              unit: str | None) -> sa.Result[Any]:
        """Aggregate rows of ``unit``, or of every unit (not '*') when it is None."""
        stmt = sa.select(Aggregate.org_unit, Aggregate.period, *COUNTERS).where(
            Aggregate.area == area, Aggregate.kind == kind, Aggregate.period.in_(periods))
        stmt = stmt.where(Aggregate.org_unit == unit if unit else Aggregate.org_unit != ALL_UNITS)
        return self.session.execute(stmt)

    def series(self, area: str, unit: str | None) -> dict[str, dict[str, Counts]]:
        """unit -> period -> counts; every unit (not '*') when ``unit`` is None."""
        found: dict[str, dict[str, Counts]] = {}
        for row in self._rows(area, self.kind, self.periods, unit):
            found.setdefault(row.org_unit, {})[row.period] = _counts(row)
        if unit:
            found.setdefault(unit, {})
        return {u: {p: by_period.get(p, Counts()) for p in self.periods}
                for u, by_period in sorted(found.items())}

    def units(self, area: str, unit: str | None) -> dict[str, Counts]:
        """unit -> counts over the whole range; every unit (not '*') when ``unit`` is None.

        A range that is exactly one calendar period reads that period's own rows;
        any other range sums the periods in it.
        """
        if self.exact is None:
            return self.totals(area, self.series(area, unit))
        kind, period = self.exact
        found = {row.org_unit: _counts(row) for row in self._rows(area, kind, [period], unit)}
        if unit:
            found.setdefault(unit, Counts())
        return dict(sorted(found.items()))

    def totals(self, area: str, series: dict[str, dict[str, Counts]]) -> dict[str, Counts]:
        """Each unit over the whole range: counters summed, citizens counted once."""
        totals: dict[str, Counts] = {}
        for unit, by_period in series.items():
            total = Counts()
            for counts in by_period.values():
                total.add(counts)
            totals[unit] = total
        if len(self.periods) == 1:
            for unit, by_period in series.items():
                only = next(iter(by_period.values()))
                totals[unit].citizens, totals[unit].returning = only.citizens, only.returning
            return totals
        if self.exact is not None and series:
            # The range is one calendar period: its own row counts each citizen once.
            kind, period = self.exact
            for row in self._rows(area, kind, [period], None if len(series) > 1
                                  else next(iter(series))):
                if row.org_unit in totals:
                    totals[row.org_unit].citizens = row.citizens
                    totals[row.org_unit].returning = row.returning_citizens
            return totals
        per_citizen = (
            sa.select(CitizenPeriod.org_unit, sa.func.sum(CitizenPeriod.n).label("n"))
            .where(CitizenPeriod.area == area, CitizenPeriod.org_unit.in_(list(series)),
                   CitizenPeriod.kind == self.kind, CitizenPeriod.period.in_(self.periods))
            .group_by(CitizenPeriod.org_unit, CitizenPeriod.pseudonym).subquery())
        counted = self.session.execute(sa.select(
            per_citizen.c.org_unit, sa.func.count(),
            sa.func.sum(sa.case((per_citizen.c.n >= 2, 1), else_=0)))
            .group_by(per_citizen.c.org_unit)).all()
        for org_unit, citizens, returning in counted:
            totals[org_unit].citizens = int(citizens)
            totals[org_unit].returning = int(returning or 0)
        return totals


def _figures(counts: Counts, threshold: int | None) -> dict[str, Any]:
    figures = measures(counts)
    if threshold is None:
        return {**figures, "suppressed": []}
    shown, hidden = suppress(counts, figures, threshold)
    return {**shown, "suppressed": hidden}


def metrics(db: Database, q: MetricsQuery, threshold: int | None) -> dict[str, Any]:
    """The measures for ``q``; ``threshold`` None means unsuppressed (admin)."""
    periods = periods_between(q.period, q.start, q.end)
    unit = q.org_unit or ALL_UNITS
    rows: list[dict[str, Any]] = []
    with db.reading() as session:
        reader = Reader(session, q.period, periods, q.start, q.end)
        total: Counts | None = None
        if q.group_by == "period":
            assert q.area is not None
            series = reader.series(q.area, unit)
            rows = [{"area": q.area, "org_unit": q.org_unit, "period": p,
                     "starts": period_start(q.period, p).isoformat(),
                     **_figures(c, threshold)} for p, c in series[unit].items()]
            total = reader.totals(q.area, series)[unit]
        elif q.group_by == "area":
            for area in AREAS:
                counts = reader.units(area, unit)[unit]
                rows.append({"area": area, "org_unit": q.org_unit, "period": None,
                             **_figures(counts, threshold)})
        else:
            assert q.area is not None
            by_unit = reader.units(q.area, None)
            rows = [{"area": q.area, "org_unit": u, "period": None,
                     **_figures(c, threshold)} for u, c in by_unit.items()]
            total = reader.units(q.area, ALL_UNITS)[ALL_UNITS]
    return {
        "area": q.area, "org_unit": q.org_unit, "period": q.period, "group_by": q.group_by,
        "from": q.start.isoformat(), "to": q.end.isoformat(), "periods": periods,
        "threshold": threshold,
        "rows": rows,
        "total": None if total is None else {
            "area": q.area, "org_unit": q.org_unit, "period": None,
            **_figures(total, threshold)},
    }
