"""What every area's service has in common; the areas are declared in shared/areas.py.

An area's rules are described once, in its package's ``domain`` module, by an
:class:`Area`; everything else (tables, use cases, REST, webhooks, CloudEvents) is this
package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.involvement import Rubric

WITHDRAWAL_REASONS = ("recorded_in_error", "duplicate", "citizen_request", "other")


@dataclass(frozen=True)
class Area:
    name: str
    activity_kind: str
    activity_path: str
    stages: tuple[str, ...]
    roles: tuple[str, ...]
    rubric: Rubric
    # Area rules a schema cannot express; raise shared.errors.Invalid naming the field.
    check_involvement: Callable[[dict[str, Any]], None] = field(default=lambda _: None)
    # Checks of an activity against the area's own tables (a session's course exists).
    check_activity: Callable[[Any, dict[str, Any]], None] = field(
        default=lambda _session, _fields: None)

    @property
    def source(self) -> str:
        return f"/ladder/{self.name}"
