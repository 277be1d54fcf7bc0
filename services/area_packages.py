"""The areas' packages, imported: what the registry (shared/areas.py) names.

shared/ names each area's package (``Entry.module``) and never imports it; code in
services/, and the tests, import it through here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from shared import areas
from shared.area import Area
from shared.area.demo import Demo


def part(name: str, module: str) -> ModuleType:
    """One module of the area's package: ``domain``, ``api``, ``models`` or ``demo``."""
    return importlib.import_module(f"{areas.get(name).module}.{module}")


def domain(name: str) -> Area:
    """The area's rules: its activity, stages, roles and rubric."""
    area: Area = part(name, "domain").AREA
    return area


def demo(name: str) -> Demo:
    """Its part of ``ladder demo``, and one sample activity and involvement."""
    found: Demo = part(name, "demo").DEMO
    return found
