"""A valid activity and involvement for each area, as its API takes them
(bench/support/areas.py, which the benchmarks share), and what else the tests need of
each area: its activity's path and dating field, and what its system sets up first.
"""

from __future__ import annotations

from bench.support.areas import ACTIVITIES, AREAS, ROLES, STAGES, involvement
from services import area_packages
from shared.area.demo import Prerequisite
from shared.fields import Date

__all__ = ["ACTIVITIES", "AREAS", "COURSE", "DATES", "PATHS", "ROLES", "SETUP", "STAGES",
           "involvement"]

PATHS = {name: area_packages.domain(name).activity_path for name in AREAS}
# What each area's system sets up before an activity can refer to it (training's course).
SETUP: dict[str, tuple[Prerequisite, ...]] = {
    name: area_packages.demo(name).sample.prerequisites for name in AREAS}
COURSE = dict(SETUP["training"][0].body)


def _date(area: str) -> str:
    """The field of the sample activity that dates it (opened_on, delivered_on, ...)."""
    declared = area_packages.part(area, "api").SCHEMAS.activity_in().fields
    return next(name for name in ACTIVITIES[area] if isinstance(declared.get(name), Date))


DATES = {name: _date(name) for name in AREAS}
