"""Reading the measures: per area, org unit and period, over a time range.

Everything here reads the aggregate tables that the append keeps up to date; no
request scans the entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
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


def _counts(row: Aggregate | None) -> Counts:
    if row is None:
        return Counts()
    return Counts(activities=row.activities, activities_involved=row.activities_involved,
                  involvements=row.involvements,
                  steps=[getattr(row, f"step_{n}") for n in range(1, 8)], hours=row.hours,
                  recognised=row.recognised, votes=row.votes, feedback=row.feedback,
                  citizens=row.citizens, returning=row.returning_citizens)


class Reader:
    def __init__(self, session: sa.orm.Session, kind: str, periods: list[str]) -> None:
        self.session = session
        self.kind = kind
        self.periods = periods

    def series(self, area: str, unit: str) -> dict[str, Counts]:
        rows = self.session.scalars(sa.select(Aggregate).where(
            Aggregate.area == area, Aggregate.org_unit == unit, Aggregate.kind == self.kind,
            Aggregate.period.in_(self.periods)))
        found = {row.period: _counts(row) for row in rows}
        return {p: found.get(p, Counts()) for p in self.periods}

    def total(self, area: str, unit: str, series: dict[str, Counts] | None = None) -> Counts:
        """The whole range: additive counters summed, citizens counted once."""
        series = series if series is not None else self.series(area, unit)
        if len(series) == 1:
            return next(iter(series.values()))
        total = Counts()
        for counts in series.values():
            total.add(counts)
        per_citizen = (
            sa.select(sa.func.sum(CitizenPeriod.n).label("n"))
            .where(CitizenPeriod.area == area, CitizenPeriod.org_unit == unit,
                   CitizenPeriod.kind == self.kind, CitizenPeriod.period.in_(self.periods))
            .group_by(CitizenPeriod.pseudonym).subquery())
        citizens, returning = self.session.execute(sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(
                sa.case((per_citizen.c.n >= 2, 1), else_=0)), 0))).one()
        total.citizens, total.returning = int(citizens), int(returning)
        return total

    def units(self, area: str) -> list[str]:
        return list(self.session.scalars(
            sa.select(Aggregate.org_unit).distinct().where(
                Aggregate.area == area, Aggregate.kind == self.kind,
                Aggregate.period.in_(self.periods), Aggregate.org_unit != ALL_UNITS)
            .order_by(Aggregate.org_unit)))


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
        reader = Reader(session, q.period, periods)
        if q.group_by == "period":
            assert q.area is not None
            series = reader.series(q.area, unit)
            rows = [{"area": q.area, "org_unit": q.org_unit, "period": p,
                     "starts": period_start(q.period, p).isoformat(),
                     **_figures(c, threshold)} for p, c in series.items()]
            total = reader.total(q.area, unit, series)
        elif q.group_by == "area":
            totals = {area: reader.total(area, unit) for area in AREAS}
            rows = [{"area": area, "org_unit": q.org_unit, "period": None,
                     **_figures(c, threshold)} for area, c in totals.items()]
            total = None
        else:
            assert q.area is not None
            rows = [{"area": q.area, "org_unit": u, "period": None,
                     **_figures(reader.total(q.area, u), threshold)}
                    for u in reader.units(q.area)]
            total = reader.total(q.area, ALL_UNITS)
    return {
        "area": q.area, "org_unit": q.org_unit, "period": q.period, "group_by": q.group_by,
        "from": q.start.isoformat(), "to": q.end.isoformat(), "periods": periods,
        "threshold": threshold,
        "rows": rows,
        "total": None if total is None else {
            "area": q.area, "org_unit": q.org_unit, "period": None,
            **_figures(total, threshold)},
    }
