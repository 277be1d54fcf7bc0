"""A valid activity and involvement for each area, as its API takes them.

The areas are the registry's (shared/areas.py); each one's sample activity, stage and
role come from its own ``demo`` module (shared/area/demo.py).
"""

from __future__ import annotations

from typing import Any

from services import area_packages
from shared import areas

AREAS = areas.names()
ACTIVITIES: dict[str, dict[str, Any]] = {name: dict(area_packages.demo(name).sample.activity)
                                         for name in AREAS}
STAGES = {name: area_packages.demo(name).sample.stage for name in AREAS}
ROLES = {name: area_packages.demo(name).sample.role for name in AREAS}


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
