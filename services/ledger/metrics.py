"""Reading the measures: per area, org unit and period, over a time range.

Everything here reads the aggregate tables that the append keeps up to date; no
request scans the entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from services.ledger import citizen_sets, disclosure
from services.ledger.disclosure import Control
from services.ledger.domain import AREAS
from services.ledger.measures import Counts, measures, period_of, period_start
from services.ledger.models import Aggregate, CellHistogram
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
            Aggregate.returning_citizens, Aggregate.told, Aggregate.changed,
            Aggregate.non_financial)


def _counts(row: sa.Row[Any]) -> Counts:
    return Counts(activities=row.activities, activities_involved=row.activities_involved,
                  involvements=row.involvements,
                  steps=[row.step_1, row.step_2, row.step_3, row.step_4, row.step_5,
                         row.step_6, row.step_7], hours=row.hours,
                  recognised=row.recognised, votes=row.votes, feedback=row.feedback,
                  citizens=row.citizens, returning=row.returning_citizens, told=row.told,
                  changed=row.changed, non_financial=row.non_financial)


def _one_period(start: date, end: date) -> tuple[str, str] | None:
    """The single calendar year, quarter or month that is exactly [start, end], if any."""
    for kind in ("year", "quarter", "month"):
        periods = periods_between(kind, start, end)
        if len(periods) == 1 and period_start(kind, periods[0]) == start:
            following = date(end.year + end.month // 12, end.month % 12 + 1, 1)
            if following == next_start(kind, periods[0]) and end.day == (
                    following - timedelta(days=1)).day:
                return kind, periods[0]
    return None


def _whole(kind: str, periods: list[str]) -> tuple[str, str] | None:
    """The single calendar period that the periods of a query make up together, if any:
    quarters 1 to 4 are a year, whatever dates within them the query named."""
    return _one_period(period_start(kind, periods[0]),
                       next_start(kind, periods[-1]) - timedelta(days=1))


def next_start(kind: str, period: str) -> date:
    first = period_start(kind, period)
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class Reader:
    def __init__(self, session: sa.orm.Session, kind: str, periods: list[str]) -> None:
        self.session = session
        self.kind = kind
        self.periods = periods
        # Its aggregate rows count each citizen once: none need counting per query.
        self.exact = _whole(kind, periods)

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
        counted = citizen_sets.reach(self.session, area, list(series),
                                     months_of(self.kind, self.periods), by_unit=True,
                                     keyed=False)
        for unit, total in totals.items():
            found = counted.get(unit, disclosure.Reach())
            total.citizens, total.returning = found.citizens, found.returning
        return totals


def _exact(session: sa.orm.Session, q: MetricsQuery,
           periods: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Rows and total, as they are: for admins."""
    unit = q.org_unit or ALL_UNITS
    reader = Reader(session, q.period, periods)
    months = months_of(q.period, periods)
    total: Counts | None = None
    if q.group_by == "period":
        assert q.area is not None
        series = reader.series(q.area, unit)
        total = reader.totals(q.area, series)[unit]
        by_period = series[unit]
        _attach(by_period, histograms(session, q.area, unit, months), lambda u, m: months[m])
        _attach({None: total}, histograms(session, q.area, unit, months), lambda u, m: None)
        rows = [{"area": q.area, "org_unit": q.org_unit, "period": p,
                 "starts": period_start(q.period, p).isoformat(), **_exact_figures(c)}
                for p, c in by_period.items()]
    elif q.group_by == "area":
        rows = []
        for area in AREAS:
            counts = reader.units(area, unit)[unit]
            _attach({None: counts}, histograms(session, area, unit, months), lambda u, m: None)
            rows.append({"area": area, "org_unit": q.org_unit, "period": None,
                         **_exact_figures(counts)})
    else:
        assert q.area is not None
        by_unit = reader.units(q.area, None)
        _attach(by_unit, histograms(session, q.area, None, months), lambda u, m: u)
        total = reader.units(q.area, ALL_UNITS)[ALL_UNITS]
        _attach({None: total}, histograms(session, q.area, ALL_UNITS, months),
                lambda u, m: None)
        rows = [{"area": q.area, "org_unit": u, "period": None, **_exact_figures(c)}
                for u, c in by_unit.items()]
    return rows, None if total is None else {
        "area": q.area, "org_unit": q.org_unit, "period": None, **_exact_figures(total)}


def histograms(session: sa.orm.Session, area: str, unit: str | None,
               months: dict[str, str]) -> list[sa.Row[*tuple[Any, ...]]]:
    """The histogram rows (org unit, month, measure, value, n) of ``unit`` ('*' for all,
    None for each real unit) in ``months``."""
    table = CellHistogram
    stmt = sa.select(table.org_unit, table.month, table.measure, table.value, table.n).where(
        table.area == area, table.month.in_(list(months)), table.n > 0)
    stmt = stmt.where(table.org_unit == unit if unit else table.org_unit != ALL_UNITS)
    return list(session.connection().execute(stmt))


def _attach(counts: dict[Any, Counts], rows: list[sa.Row[*tuple[Any, ...]]],
            key: Callable[[str, str], Any],
            weight: Callable[[str, str, str], float] = lambda u, m, measure: 1.0) -> None:
    """Add histogram ``rows`` to the counts of their group, ``key(unit, month)``, each
    count times ``weight(unit, month, measure)``."""
    for unit, month, measure, value, n in rows:
        found = counts.get(key(unit, month))
        if found is None:
            continue
        share = n * weight(unit, month, measure)
        if measure == "feedback_days":
            days = int(value)
            found.feedback_days[days] = found.feedback_days.get(days, 0) + share
        else:
            found.rubrics[value] = found.rubrics.get(value, 0) + share


def _exact_figures(counts: Counts) -> dict[str, Any]:
    return {**measures(counts), "suppressed": []}


# -- rounded, for every reader below admin (services.ledger.disclosure) -------------------


def months_of(kind: str, periods: list[str]) -> dict[str, str]:
    """Every calendar month of ``periods``, mapped to the period it falls in."""
    found: dict[str, str] = {}
    for period in periods:
        first = period_start(kind, period)
        for i in range({"month": 1, "quarter": 3, "year": 12}[kind]):
            index = first.year * 12 + first.month - 1 + i
            found[f"{index // 12:04d}-{index % 12 + 1:02d}"] = period
    return found


# The additive counter columns, in the order disclosure.cell takes them.
ADDITIVE = tuple(Aggregate.__table__.c[name] for name in disclosure.ADDITIVE)


class Rounded:
    """Reads the finest cells and the citizens of one query, rounded for readers below admin.

    Every additive figure is a sum of rounded (area, org unit, month) cells; every
    distinct count is rounded on its own, keyed by its citizens.
    """

    def __init__(self, session: sa.orm.Session, control: Control, kind: str,
                 periods: list[str]) -> None:
        self.session = session
        self.control = control
        self.kind = kind
        self.periods = periods
        self.months = months_of(kind, periods)

    def cells(self, area: str, unit: str | None, key: Callable[[str, str], str]
              ) -> dict[str, Counts]:
        """The rounded month cells of ``unit`` (every real unit when None) in the query's
        periods, added up per ``key(unit, period)``.

        A cell's histograms (the days until its citizens were told, its rubric
        versions) go into its group weighted by how its count rounded: each involvement
        by rounded over exact involvements, each told one by rounded over exact told. So
        they add up to the rounded counts, and a cell whose involvements round to 0
        adds nothing to them.
        """
        stmt = sa.select(Aggregate.org_unit, Aggregate.period, *ADDITIVE).where(
            Aggregate.area == area, Aggregate.kind == "month",
            Aggregate.period.in_(list(self.months)))
        stmt = stmt.where(Aggregate.org_unit == unit if unit else Aggregate.org_unit != ALL_UNITS)
        sums: dict[str, list[float]] = {}
        weights: dict[tuple[str, str, str], float] = {}
        for org_unit, month, *values in self.session.connection().execute(stmt):
            rounded = disclosure.cell(self.control, area, org_unit, month, tuple(values))
            total = sums.setdefault(key(org_unit, self.months[month]), [0.0] * len(rounded))
            for i, value in enumerate(rounded):
                total[i] += value
            for measure, name in (("rubric", "involvements"), ("feedback_days", "told")):
                exact, shown = disclosure.part(values, name), disclosure.part(rounded, name)
                weights[(org_unit, month, measure)] = shown / exact if exact else 0.0
        found = {k: disclosure.counts(v) for k, v in sums.items()}
        _attach(found, histograms(self.session, area, unit, self.months),
                lambda u, m: key(u, self.months[m]),
                lambda u, m, measure: weights.get((u, m, measure), 0.0))
        return found

    def reach(self, area: str, unit: str | None,
              by: str | None) -> dict[str, tuple[int, int]]:
        """Rounded (citizens, returning) of ``unit`` ('*' for all, None for each real
        unit), ``by`` "period", by "org_unit", or over the whole range (None, keyed by
        the area).

        A figure of one calendar period reads its aggregate row, which keeps the sums of
        its citizens' keys; any other range counts the citizens of its periods once.
        """
        whole = _whole(self.kind, self.periods)
        if by == "period":
            found = self._aggregate_reach(area, unit, self.kind, self.periods, by)
        elif whole is not None:
            kind, period = whole
            found = self._aggregate_reach(area, unit, kind, [period], by)
        else:
            found = self._counted_reach(area, unit, by)
        return {g: disclosure.reach(self.control, area, counted) for g, counted in found.items()}

    def _aggregate_reach(self, area: str, unit: str | None, kind: str, periods: list[str],
                         by: str | None) -> dict[str, disclosure.Reach]:
        group = Aggregate.__table__.c[by] if by else sa.literal(area)
        stmt = sa.select(group, Aggregate.citizens, Aggregate.returning_citizens,
                         Aggregate.citizens_key, Aggregate.returning_key).where(
            Aggregate.area == area, Aggregate.kind == kind, Aggregate.period.in_(periods))
        stmt = stmt.where(Aggregate.org_unit == unit if unit else Aggregate.org_unit != ALL_UNITS)
        return {g: disclosure.Reach(int(n), int(r), int(k), int(rk))
                for g, n, r, k, rk in self.session.execute(stmt)}

    def _counted_reach(self, area: str, unit: str | None,
                       by: str | None) -> dict[str, disclosure.Reach]:
        return citizen_sets.reach(self.session, area, [unit] if unit else None, self.months,
                                  by_unit=by == "org_unit")

    def figures(self, counts: Counts, reach: tuple[int, int] | None) -> dict[str, Any]:
        # No more citizens than involvements shown: rounded on their own, citizens could
        # otherwise show that a figure whose involvements show 0 is not empty.
        citizens, returning = reach or (0, 0)
        counts.citizens = min(citizens, counts.involvements)
        counts.returning = min(returning, counts.citizens)
        return disclosure.figures(self.control, counts)


def _rounded(session: sa.orm.Session, q: MetricsQuery, periods: list[str],
             control: Control) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Rows and total for readers below admin: rounded, and consistent across queries."""
    reader = Rounded(session, control, q.period, periods)
    everything = ALL_UNITS
    if q.group_by == "area":
        rows = []
        for area in AREAS:
            counts = reader.cells(area, q.org_unit, lambda u, p: everything).get(everything)
            reach = reader.reach(area, q.org_unit or ALL_UNITS, None).get(area)
            rows.append({"area": area, "org_unit": q.org_unit, "period": None,
                         **reader.figures(counts or Counts(), reach)})
        return rows, None
    assert q.area is not None
    total_reach = reader.reach(q.area, q.org_unit or ALL_UNITS, None).get(q.area)
    if q.group_by == "period":
        sums = reader.cells(q.area, q.org_unit, lambda u, p: p)
        reaches = reader.reach(q.area, q.org_unit or ALL_UNITS, "period")
        rows = [{"area": q.area, "org_unit": q.org_unit, "period": p,
                 "starts": period_start(q.period, p).isoformat(),
                 **reader.figures(sums.get(p, Counts()), reaches.get(p))} for p in periods]
    else:
        sums = reader.cells(q.area, q.org_unit, lambda u, p: u)
        reaches = reader.reach(q.area, None, "org_unit")
        rows = [{"area": q.area, "org_unit": u, "period": None,
                 **reader.figures(sums[u], reaches.get(u))} for u in sorted(sums)]
        # A unit is listed when it shows something: listing every unit with a record in
        # the range would tell, of a unit whose counts all round to 0, that it is not empty.
        rows = [row for row in rows if _shows_anything(row)]
    total = Counts()
    for counts in sums.values():
        total.add(counts)
    return rows, {"area": q.area, "org_unit": q.org_unit, "period": None,
                  **reader.figures(total, total_reach)}


def _shows_anything(row: dict[str, Any]) -> bool:
    # With none of these, every figure of the row is 0 or hidden.
    return bool(row["activities"] or row["involvements"])


def report_in(session: sa.orm.Session, q: MetricsQuery,
              control: Control | None) -> dict[str, Any]:
    """The measures for ``q`` on an open session: rounded under ``control``, exact without."""
    periods = periods_between(q.period, q.start, q.end)
    rows, total = (_exact(session, q, periods) if control is None
                   else _rounded(session, q, periods, control))
    return {
        "area": q.area, "org_unit": q.org_unit, "period": q.period, "group_by": q.group_by,
        "from": q.start.isoformat(), "to": q.end.isoformat(), "periods": periods,
        "disclosure": control.label() if control else {"method": disclosure.EXACT},
        "rows": rows, "total": total,
    }


def metrics(db: Database, q: MetricsQuery, control: Control | None) -> dict[str, Any]:
    """The measures for ``q``: rounded under ``control`` (every reader below admin), exact
    for admins (``control`` None), and labelled as which."""
    with db.reading() as session:
        return report_in(session, q, control)
