"""Keep the measures up to date: the measures follower of the log applies each step of
entries here, in that step's transaction (services/ledger/followers.py).

Each appended event moves a few counters: the aggregates of its area, org unit
(and all units, ``*``) and period (month, quarter and year), and the per-citizen
counts behind distinct and returning citizens. Corrections take the old facts
out and put the new ones in; withdrawals take them out. Nothing here reads the
entries table: the follower hands the entries in. The counters' rows are written by
services/ledger/upserts.py, in each database's own SQL.

An event moves one cell, its area, unit and month, while a batch is applied: the
quarter, the year and all units are added up from the cells once, when it is
written. A citizen's counts are a row a year with a column a month, in its unit
and in all units; the moves of distinct and returning citizens in each month,
quarter and year follow from that row before and after (measures.citizen_moves).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger import citizen_sets
from services.ledger.disclosure import citizen_key
from services.ledger.domain import AcceptedEvent, told_on
from services.ledger.measures import PERIODS, citizen_moves, period_of
from services.ledger.models import (
    ActivityState,
    Aggregate,
    CellHistogram,
    InvolvementState,
)
from services.ledger.upserts import (
    CITIZEN_KEY,
    CITIZEN_YEARS,
    CitizenKey,
    add_to_citizens,
    add_to_counters,
    delete_rows,
    empty_months,
    rows_with_keys,
)
from shared.db import executemany, table_insert
from shared.impact import CHANGED

log = logging.getLogger(__name__)

ALL_UNITS = "*"


@dataclass(slots=True)
class ActivityRow:
    """An ``activity_states`` row, as plain data while a batch moves it."""

    area: str
    activity_id: str
    org_unit: str
    day: date
    status: str
    involved: int
    told_on: date | None = None
    outcome: str | None = None


@dataclass(slots=True)
class InvolvementRow:
    """An ``involvement_states`` row, as plain data while a batch moves it."""

    area: str
    involvement_id: str
    activity_id: str
    org_unit: str
    day: date
    pseudonym: str
    status: str
    step: int = 0
    hours: float = 0.0
    recognised: bool = False
    vote: bool = False
    feedback: bool = False
    recognition: str = "none"
    rubric: str = ""
    told_on: date | None = None
    outcome: str | None = None


State = ActivityRow | InvolvementRow
S = TypeVar("S", ActivityRow, InvolvementRow)
TABLES: dict[type, sa.Table] = {ActivityRow: cast(sa.Table, ActivityState.__table__),
                                InvolvementRow: cast(sa.Table, InvolvementState.__table__)}
KEYS = {ActivityRow: ("area", "activity_id"), InvolvementRow: ("area", "involvement_id")}
FIELDS = {kind: tuple(f.name for f in fields(kind)) for kind in TABLES}
COUNTERS = ("activities", "activities_involved", "involvements", "step_1", "step_2",
            "step_3", "step_4", "step_5", "step_6", "step_7", "hours", "recognised", "votes",
            "feedback", "citizens", "returning_citizens", "citizens_key", "returning_key",
            "told", "changed", "non_financial")
CELL_HISTOGRAMS = cast(sa.Table, CellHistogram.__table__)
HISTOGRAM_KEY = ("area", "org_unit", "month", "measure", "value")
# (area, org unit or '*', month, measure, value): a histogram's count.
HistogramKey = tuple[str, str, str, str, str]
# (area, org unit or '*', kind, period): an aggregate row.
Key = tuple[str, str, str, str]
# (area, org unit, month): a cell, as a batch moves it.
Cell = tuple[str, str, str]


def _row(state: State) -> dict[str, Any]:
    # dataclasses.asdict deep-copies every value; these are all flat.
    return {name: getattr(state, name) for name in FIELDS[type(state)]}


@lru_cache(maxsize=4096)
def _keys(area: str, org_unit: str, month: str) -> tuple[Key, ...]:
    """The aggregates a cell of this area, unit and month (YYYY-MM) adds up into."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return tuple((area, unit, kind, period_of(first, kind))
                 for unit in (org_unit, ALL_UNITS) for kind in PERIODS)


def _cell(area: str, org_unit: str, day: date) -> Cell:
    return area, org_unit, f"{day.year:04d}-{day.month:02d}"


def _counters() -> dict[str, float]:
    return defaultdict(float)


def _states(session: Session, kind: type[S], keys: list[tuple[str, str]]) -> list[S]:
    """The state rows of these keys there are, each read through the primary key."""
    key: tuple[str, ...] = KEYS[kind]
    others: tuple[str, ...] = tuple(name for name in FIELDS[kind] if name not in key)
    return [kind(**dict(zip((*key, *others), row, strict=True)))
            for row in rows_with_keys(session, TABLES[kind], key, keys, others)]


class Projector:
    """Applies one batch of accepted events to the state and aggregate tables."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cells: dict[Cell, dict[str, float]] = defaultdict(_counters)
        # The aggregates' moves, added up from the cells and the citizens when written.
        self.agg: dict[Key, dict[str, float]] = defaultdict(_counters)
        # Each citizen's moves in its unit, by month of the year.
        self.citizens: dict[CitizenKey, list[int]] = defaultdict(empty_months)
        self.histograms: dict[HistogramKey, int] = defaultdict(int)
        self.activities: dict[tuple[str, str], ActivityRow] = {}
        self.involvements: dict[tuple[str, str], InvolvementRow] = {}
        # Plain data, not ORM objects: new rows are bulk-inserted and changed rows
        # bulk-updated at the end of the batch.
        self.new: list[State] = []
        self.changed: dict[int, State] = {}

    # -- loading --------------------------------------------------------------------------

    def _load(self, events: list[AcceptedEvent]) -> None:
        acts = sorted({(e.area, e.data["activity_id"]) for e in events})
        invs = sorted({(e.area, e.data["involvement_id"]) for e in events
                       if e.data.get("involvement_id")})
        for a in _states(self.session, ActivityRow, acts):
            self.activities[(a.area, a.activity_id)] = a
        for i in _states(self.session, InvolvementRow, invs):
            self.involvements[(i.area, i.involvement_id)] = i

    def _touch(self, state: State) -> None:
        """Mark a state read from the table as changed (new ones are inserted whole)."""
        self.changed[id(state)] = state

    # -- counters -------------------------------------------------------------------------

    def _activity(self, a: ActivityRow, sign: int) -> None:
        """Add (or take out) an active activity's part in coverage."""
        counters = self.cells[_cell(a.area, a.org_unit, a.day)]
        counters["activities"] += sign
        if a.involved:
            counters["activities_involved"] += sign

    def _involvement(self, i: InvolvementRow, sign: int, citizen: bool = True) -> None:
        told, outcome = self._impact(i)
        cell = _cell(i.area, i.org_unit, i.day)
        counters = self.cells[cell]
        counters["involvements"] += sign
        counters[f"step_{i.step}"] += sign
        counters["hours"] += sign * i.hours
        counters["recognised"] += sign * int(i.recognised)
        counters["votes"] += sign * int(i.vote)
        counters["feedback"] += sign * int(i.feedback)
        counters["non_financial"] += sign * int(i.recognition == "time_credit")
        counters["told"] += sign * int(told is not None)
        counters["changed"] += sign * int(outcome in CHANGED)
        if citizen:
            self.citizens[(i.area, i.org_unit, cell[2][:4], i.pseudonym)][i.day.month - 1] += sign
        month = cell[2]
        for unit in (i.org_unit, ALL_UNITS):
            self.histograms[(i.area, unit, month, "rubric", i.rubric)] += sign
            if told is not None:
                days = str(max((told - i.day).days, 0))
                self.histograms[(i.area, unit, month, "feedback_days", days)] += sign

    def _impact(self, i: InvolvementRow) -> tuple[date | None, str | None]:
        """When the involvement's citizen was told, and what changed: by its own impact
        record, or else by its activity's."""
        if i.outcome is not None:
            return i.told_on, i.outcome
        a = self.activities.get((i.area, i.activity_id))
        return (a.told_on, a.outcome) if a is not None else (None, None)

    @staticmethod
    def _facts(i: InvolvementRow, data: dict[str, Any]) -> None:
        i.step = int(data["step"])
        i.hours = float(data["hours"])
        i.recognised = data["recognition"] != "none"
        i.vote = data["decision_power"] in ("equal_vote", "lead")
        i.feedback = bool(data["feedback_given"])
        i.recognition = data["recognition"]
        i.rubric = data["rubric_version"]

    # -- events ---------------------------------------------------------------------------

    @property
    def touched(self) -> set[Key]:
        """The aggregates (area, unit, kind, period) this batch moved, or might have."""
        return set(self.agg)

    def apply(self, events: list[AcceptedEvent]) -> None:
        if not events:
            return
        self._load(events)
        for event in events:
            # org.ladder.involvement.corrected -> _on_involvement_corrected
            noun, verb = event.type.rsplit(".", 2)[-2:]
            getattr(self, f"_on_{noun}_{verb}")(event)
        self._flush()

    def _on_activity_recorded(self, e: AcceptedEvent) -> None:
        key = (e.area, e.data["activity_id"])
        if key in self.activities:
            log.warning("activity %s recorded twice; the first record stands", key)
            return
        a = ActivityRow(area=e.area, activity_id=key[1], org_unit=e.data["org_unit"],
                        day=e.time.date(), status="active", involved=0)
        self.new.append(a)
        self.activities[key] = a
        self._activity(a, +1)

    def _on_activity_updated(self, e: AcceptedEvent) -> None:
        a = self.activities.get((e.area, e.data["activity_id"]))
        if a is None or a.org_unit == e.data["org_unit"]:
            return
        # The activity moves to another unit, and its involvements with it.
        moving = [i for i in self._involvements_of(a) if i.status == "active"]
        if a.status == "active":
            self._activity(a, -1)
        for i in moving:
            self._involvement(i, -1)
            i.org_unit = e.data["org_unit"]
            self._touch(i)
            self._involvement(i, +1)
        a.org_unit = e.data["org_unit"]
        self._touch(a)
        if a.status == "active":
            self._activity(a, +1)

    def _involvements_of(self, a: ActivityRow) -> list[InvolvementRow]:
        table = TABLES[InvolvementRow]
        stmt = sa.select(table).where(table.c.area == a.area,
                                      table.c.activity_id == a.activity_id)
        for r in self.session.execute(stmt):
            self.involvements.setdefault((r.area, r.involvement_id), InvolvementRow(**r._mapping))
        return [i for (area, _), i in self.involvements.items()
                if area == a.area and i.activity_id == a.activity_id]

    def _on_activity_cancelled(self, e: AcceptedEvent) -> None:
        a = self.activities.get((e.area, e.data["activity_id"]))
        if a is None or a.status != "active":
            return
        self._activity(a, -1)
        a.status = "cancelled"
        self._touch(a)

    def _on_involvement_recorded(self, e: AcceptedEvent) -> None:
        key = (e.area, e.data["involvement_id"])
        if key in self.involvements:
            log.warning("involvement %s recorded twice; the first record stands", key)
            return
        i = InvolvementRow(area=e.area, involvement_id=key[1],
                           activity_id=e.data["activity_id"], org_unit=e.data["org_unit"],
                           day=e.time.date(), pseudonym=e.data["pseudonym"], status="active")
        self._facts(i, e.data)
        self.new.append(i)
        self.involvements[key] = i
        self._involvement(i, +1)
        self._involved(e.area, i.activity_id, +1)

    def _involved(self, area: str, activity_id: str, sign: int) -> None:
        """One more (or fewer) active involvement in an activity: coverage may change."""
        a = self.activities.get((area, activity_id))
        if a is None:
            log.warning("involvement in unknown activity %s/%s", area, activity_id)
            return
        before = a.involved
        a.involved += sign
        self._touch(a)
        if a.status == "active" and (before == 0) != (a.involved == 0):
            self.cells[_cell(a.area, a.org_unit, a.day)]["activities_involved"] += sign

    def _on_involvement_corrected(self, e: AcceptedEvent) -> None:
        i = self.involvements.get((e.area, e.data["involvement_id"]))
        if i is None or i.status != "active":
            return
        self._involvement(i, -1, citizen=False)
        self._facts(i, e.data)
        self._touch(i)
        self._involvement(i, +1, citizen=False)

    def _on_involvement_withdrawn(self, e: AcceptedEvent) -> None:
        i = self.involvements.get((e.area, e.data["involvement_id"]))
        if i is None or i.status != "active":
            return
        self._involvement(i, -1)
        i.status = "withdrawn"
        self._touch(i)
        self._involved(e.area, i.activity_id, -1)

    def _on_impact_recorded(self, e: AcceptedEvent) -> None:
        """What came of an involvement, or of a whole activity: the latest record stands."""
        outcome, told = e.data["outcome"], told_on(e.data)
        if e.data.get("involvement_id"):
            i = self.involvements.get((e.area, e.data["involvement_id"]))
            if i is None:
                log.warning("impact record of unknown involvement %s/%s", e.area,
                            e.data["involvement_id"])
                return
            active = i.status == "active"
            if active:
                self._involvement(i, -1, citizen=False)
            i.told_on, i.outcome = told, outcome
            self._touch(i)
            if active:
                self._involvement(i, +1, citizen=False)
            return
        a = self.activities.get((e.area, e.data["activity_id"]))
        if a is None:
            log.warning("impact record of unknown activity %s/%s", e.area,
                        e.data["activity_id"])
            return
        # Those with a record of their own keep it; the others now stand by this one.
        standing = [i for i in self._involvements_of(a)
                    if i.status == "active" and i.outcome is None]
        for i in standing:
            self._involvement(i, -1, citizen=False)
        a.told_on, a.outcome = told, outcome
        self._touch(a)
        for i in standing:
            self._involvement(i, +1, citizen=False)

    _on_impact_corrected = _on_impact_recorded

    # -- writing --------------------------------------------------------------------------

    def _flush(self) -> None:
        fresh = {id(state) for state in self.new}
        for kind, table in TABLES.items():
            rows = [_row(s) for s in self.new if isinstance(s, kind)]
            executemany(self.session.connection(), table_insert(table), rows)
            keys = KEYS[kind]
            updates = [{**_row(s), **{f"k_{k}": getattr(s, k) for k in keys}}
                       for n, s in self.changed.items() if isinstance(s, kind) and n not in fresh]
            if updates:
                executemany(self.session.connection(),
                            sa.update(table).where(*(table.c[k] == sa.bindparam(f"k_{k}")
                                                     for k in keys)), updates)
        for (area, org_unit, month), moved in self.cells.items():
            for key in _keys(area, org_unit, month):
                counters = self.agg[key]
                for name, n in moved.items():
                    counters[name] += n
        self._flush_citizens()
        rows = [{"area": k[0], "org_unit": k[1], "kind": k[2], "period": k[3],
                 **{c: counters.get(c, 0) for c in COUNTERS}}
                for k, counters in self.agg.items() if any(counters.values())]
        if rows:
            add_to_counters(self.session, cast(sa.Table, Aggregate.__table__), rows, COUNTERS)
        histogram = [dict(zip(HISTOGRAM_KEY, key, strict=True), n=n)
                     for key, n in self.histograms.items() if n]
        if histogram:
            add_to_counters(self.session, CELL_HISTOGRAMS, histogram, ("n",), HISTOGRAM_KEY)

    def _flush_citizens(self) -> None:
        """Move each changed citizen's counts, in its unit and in all units; distinct
        and returning citizens follow.

        ``add_to_citizens`` gives each row's months after the change; before is that
        minus the change, and from both the distinct and returning citizens move. A
        row back at zero in every month is deleted. Where a month's count crosses 1 or 2,
        the citizen joins or leaves that month's sets (services.ledger.citizen_sets).
        """
        changed: dict[CitizenKey, list[int]] = defaultdict(empty_months)
        for (area, org_unit, year, pseudonym), moved in self.citizens.items():
            for key in ((area, org_unit, year, pseudonym), (area, ALL_UNITS, year, pseudonym)):
                months = changed[key]
                for m, n in enumerate(moved):
                    months[m] += n
        changed = {key: months for key, months in changed.items() if any(months)}
        if not changed:
            return
        gone = []
        moves: dict[citizen_sets.Cell, citizen_sets.Moves] = defaultdict(citizen_sets.Moves)
        for key, after in add_to_citizens(self.session, changed):
            area, org_unit, year, pseudonym = key
            before = [a - d for a, d in zip(after, changed[key], strict=True)]
            for m, (b, a) in enumerate(zip(before, after, strict=True)):
                if b == a:
                    continue
                for least in (1, 2):
                    if (b >= least) != (a >= least):
                        moves[(area, org_unit, f"{year}-{m + 1:02d}")].flip(
                            pseudonym, least, a >= least)
            record_key = citizen_key(pseudonym)  # cached per process
            for kind, period, joined, returned in citizen_moves(year, before, after):
                counters = self.agg[(area, org_unit, kind, period)]
                counters["citizens"] += joined
                counters["returning_citizens"] += returned
                counters["citizens_key"] += joined * record_key
                counters["returning_key"] += returned * record_key
            if not any(after):
                gone.append(key)
        delete_rows(self.session, CITIZEN_YEARS, CITIZEN_KEY, gone)
        citizen_sets.move(self.session, moves)
