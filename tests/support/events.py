"""Builders of valid CloudEvents, as the services send them: bench/support/events.py,
which the benchmarks share."""

from __future__ import annotations

from bench.support.events import (
    activity,
    activity_cancelled,
    activity_updated,
    impact,
    involvement,
    withdrawn,
)

__all__ = ["activity", "activity_cancelled", "activity_updated", "impact", "involvement",
           "withdrawn"]
