"""The areas where citizens are involved, declared once.

Each area is a domain service: its own database, REST API, signed webhooks and
CloudEvents, all written once in ``shared/area/``. What is particular to it lives in
its own package (``services/<name>/``): ``domain`` (its activity, stages, roles and
rubric: an :class:`shared.area.Area`), ``api`` (its activity's own fields), ``models``
and ``demo`` (its part of ``ladder demo``, and one sample activity and involvement).
This list names each package; only code in services/ imports it
(services/area_packages.py), so shared/ never depends on services/.

Everything that needs to know which areas there are reads this list: the settings
(ports, databases, secrets), the Procfile's templated line, the CLI, the ledger (which
areas it accepts events from, and compares), the dashboard, the demo, bench and the
tests. An area's name is also its CloudEvents source (``/ladder/<name>``), its token
scopes (``<name>:write``) and the prefix of its settings (``<NAME>_PORT``,
``<NAME>_DATABASE_URL``); its database follows the one convention of
:func:`shared.config.database_url`. docs/operations.md ("Adding an area") says what a
new area takes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One area: its name, the port it listens on unless ``<NAME>_PORT`` says otherwise,
    and the package that holds it (``services.<name>`` unless given)."""

    name: str
    port: int
    package: str = ""

    @property
    def module(self) -> str:
        """The name of the area's package, for code in services/ to import."""
        return self.package or f"services.{self.name}"


AREAS: tuple[Entry, ...] = (
    Entry("recruitment", 8001),
    Entry("training", 8002),
    Entry("inspection", 8003),
    Entry("leadership", 8004),
)


def names() -> tuple[str, ...]:
    """The areas' names, in the order they are declared (and shown)."""
    return tuple(entry.name for entry in AREAS)


def get(name: str) -> Entry:
    """The area called ``name``; KeyError naming the areas if there is none."""
    for entry in AREAS:
        if entry.name == name:
            return entry
    raise KeyError(f"no area {name!r}; the areas are {', '.join(names())}")
