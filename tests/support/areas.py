"""A valid activity and involvement for each area, as its API takes them.

The areas are the registry's (shared/areas.py); each one's sample activity, stage and
role come from its own ``demo`` module (shared/area/demo.py).
"""

from __future__ import annotations

from typing import Any

from shared import areas
from shared.area.demo import Prerequisite
from shared.fields import Date

AREAS = areas.names()
PATHS = {entry.name: entry.domain.activity_path for entry in areas.AREAS}

ACTIVITIES: dict[str, dict[str, Any]] = {entry.name: dict(entry.demo.sample.activity)
                                         for entry in areas.AREAS}
STAGES = {entry.name: entry.demo.sample.stage for entry in areas.AREAS}
ROLES = {entry.name: entry.demo.sample.role for entry in areas.AREAS}
# What each area's system sets up before an activity can refer to it (training's course).
SETUP: dict[str, tuple[Prerequisite, ...]] = {entry.name: entry.demo.sample.prerequisites
                                              for entry in areas.AREAS}
COURSE = dict(SETUP["training"][0].body)


def _date(entry: areas.Entry) -> str:
    """The field of the sample activity that dates it (opened_on, delivered_on, ...)."""
    declared = entry.part("api").SCHEMAS.activity_in().fields
    return next(name for name in entry.demo.sample.activity
                if isinstance(declared.get(name), Date))


DATES = {entry.name: _date(entry) for entry in areas.AREAS}


def involvement(area: str, citizen: str = "CIT-0042", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "citizen_ref": citizen,
        "stage": STAGES[area],
        "role": ROLES[area],
        "hours": 3.5,
        "recognition": "payment",
        "decision_power": "equal_vote",
        "from_start": True,
        "feedback_given": True,
    }
    body.update(changes)
    return body
