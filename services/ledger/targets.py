"""Targets: the figure an organisation aims for, per area, unit and measure.

An admin sets them (``POST /v1/targets``); the dashboard shows each figure of the range
against its target, met or not and by how much. A target is the organisation's own aim,
not personal data: every reader sees them. What it is compared with is the reader's own
figure, disclosure-controlled as any other; a hidden figure is not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.ledger.models import Target
from services.ledger.projection import ALL_UNITS
from shared.db import Database
from shared.errors import NotFound

# The measures a target can be set for, and the range of each: every one is better higher.
MEASURES: dict[str, tuple[float, float]] = {
    "coverage": (0.0, 1.0), "index": (0.0, 100.0), "median_step": (1.0, 7.0),
    "co_design_or_higher": (0.0, 1.0), "co_production": (0.0, 1.0),
    "recognition_rate": (0.0, 1.0), "decision_vote_share": (0.0, 1.0),
    "feedback_rate": (0.0, 1.0), "told_rate": (0.0, 1.0), "change_rate": (0.0, 1.0),
}
SHARES = {name for name, (_, top) in MEASURES.items() if top == 1.0}


def view(target: Target) -> dict[str, Any]:
    return {"id": target.id, "area": target.area,
            "org_unit": None if target.org_unit == ALL_UNITS else target.org_unit,
            "measure": target.measure, "value": target.value, "set_at": target.set_at,
            "set_by": target.set_by}


def set_target(db: Database, area: str, measure: str, value: float, org_unit: str | None,
               who: str, now: datetime) -> dict[str, Any]:
    """Set the target of ``measure`` in ``area`` (and unit): a new one, or it replaces the
    one there was."""
    unit = org_unit or ALL_UNITS
    with db.writing() as session:
        target = session.scalars(sa.select(Target).where(
            Target.area == area, Target.org_unit == unit, Target.measure == measure)
            .with_for_update()).first()
        if target is None:
            target = Target(area=area, org_unit=unit, measure=measure, value=value,
                            set_at=now, set_by=who)
            session.add(target)
        else:
            target.value, target.set_at, target.set_by = value, now, who
        session.flush()
        return view(target)


def list_targets(db: Database, area: str | None = None,
                 org_unit: str | None = None) -> list[dict[str, Any]]:
    """Every target, or an area's (and one unit's: ``org_unit`` None is the whole area)."""
    stmt = sa.select(Target).order_by(Target.area, Target.org_unit, Target.measure)
    if area is not None:
        stmt = stmt.where(Target.area == area, Target.org_unit == (org_unit or ALL_UNITS))
    with db.reading() as session:
        return [view(t) for t in session.scalars(stmt)]


def remove_target(db: Database, target_id: int) -> None:
    with db.writing() as session:
        target = session.get(Target, target_id)
        if target is None:
            raise NotFound(f"No target {target_id}.")
        session.delete(target)


@dataclass(frozen=True)
class Against:
    """A figure against its target, as the dashboard says it."""

    measure: str
    value: float
    target: str
    status: str  # met, not_met, hidden, none
    text: str


def _shown(measure: str, value: float) -> str:
    return f"{100 * value:.1f}%" if measure in SHARES else f"{value:.1f}"


def against(targets: list[dict[str, Any]], row: dict[str, Any] | None) -> list[Against]:
    """Each target against the figure of ``row`` (a metrics row or total)."""
    found = []
    for target in targets:
        measure, value = target["measure"], target["value"]
        figure = None if row is None else row.get(measure)
        if row is not None and measure in row.get("suppressed", []):
            status, text = "hidden", "the figure is hidden: too few to compare"
        elif figure is None:
            status, text = "none", "nothing to measure in this range"
        elif figure >= value:
            status, text = "met", "met"
        else:
            gap = value - figure
            unit = " percentage points" if measure in SHARES else ""
            status = "not_met"
            text = f"not met: {100 * gap if measure in SHARES else gap:.1f}{unit} below"
        found.append(Against(measure, value, _shown(measure, value), status, text))
    return found
