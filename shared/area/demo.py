"""What an area declares about its data for demonstrations, in its package's ``demo``.

``ladder demo`` (services/demo.py) plans a year of every area from these declarations;
the sample is one activity and one involvement as the area's system posts them, which
the README's walk-through and the tests use. Plain Python: no Flask, no database.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Prerequisite:
    """Something the area's system sets up over REST before its activities can refer to
    it (training's courses): the path it is posted to, and the body."""

    path: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Sample:
    """One activity (its own fields and ``org_unit``) and the stage and role of one
    involvement in it, with whatever must be set up first."""

    activity: dict[str, Any]
    stage: str
    role: str
    prerequisites: tuple[Prerequisite, ...] = ()


def _none(_tag: str) -> list[Prerequisite]:
    return []


def _no_extras(_rng: random.Random, _stage: str) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Demo:
    """How busy an area is over the demo's year, and what its system sends.

    ``activity`` gives the own fields of an activity of a unit on a day, which may refer
    to what ``setup`` (given the demo's tag) set up; ``extras`` gives an involvement's
    area-specific fields at a stage.
    """

    sample: Sample
    units: tuple[str, ...]
    # Activities a unit has in a month, before scaling.
    per_month: float
    # The pool of citizens; some come back again and again.
    citizens: int
    # The share of activities that involve citizens a year ago; it grows by 0.4 over the year.
    involved: float
    hours: tuple[float, float]
    # The stages and roles the demo's citizens take, of those the area has.
    stages: tuple[str, ...]
    roles: tuple[str, ...]
    activity: Callable[[random.Random, str, date, list[Prerequisite]], dict[str, Any]]
    setup: Callable[[str], list[Prerequisite]] = field(default=_none)
    extras: Callable[[random.Random, str], dict[str, Any]] = field(default=_no_extras)
