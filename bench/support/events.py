"""Builders of events: valid CloudEvents the ledger accepts, as the services send them.

The benchmarks fill a ledger with them, and the tests build theirs with them (through
tests/support/events.py).
"""

from __future__ import annotations

from typing import Any

from shared.envelope import (
    ACTIVITY_CANCELLED,
    ACTIVITY_RECORDED,
    ACTIVITY_UPDATED,
    IMPACT_CORRECTED,
    IMPACT_RECORDED,
    INVOLVEMENT_CORRECTED,
    INVOLVEMENT_RECORDED,
    INVOLVEMENT_WITHDRAWN,
    new_event,
)
from shared.ids import new_id


def _event(type_: str, area: str, subject: str, data: dict[str, Any],
           time: str | None) -> dict[str, Any]:
    event = new_event(type=type_, source=f"/ladder/{area}", subject=subject,
                      data={"area": area, **data})
    if time:
        event["time"] = time
    return event


def activity(area: str = "recruitment", org_unit: str = "ward-7", *, activity_id: str = "",
             time: str | None = None, **data: Any) -> dict[str, Any]:
    activity_id = activity_id or new_id()
    return _event(ACTIVITY_RECORDED, area, activity_id,
                  {"activity_id": activity_id, "org_unit": org_unit, **data}, time)


def activity_updated(area: str, activity_id: str, org_unit: str,
                     time: str | None = None) -> dict[str, Any]:
    return _event(ACTIVITY_UPDATED, area, activity_id,
                  {"activity_id": activity_id, "org_unit": org_unit}, time)


def activity_cancelled(area: str, activity_id: str, org_unit: str,
                       time: str | None = None) -> dict[str, Any]:
    return _event(ACTIVITY_CANCELLED, area, activity_id,
                  {"activity_id": activity_id, "org_unit": org_unit}, time)


def involvement(area: str = "recruitment", step: int = 5, *, activity_id: str = "",
                involvement_id: str = "", pseudonym: str = "p_test", org_unit: str = "ward-7",
                hours: float = 2.0, recognition: str = "payment",
                decision_power: str = "advisory", feedback_given: bool = True,
                time: str | None = None, corrected: bool = False, rubric_version: str = "",
                **data: Any) -> dict[str, Any]:
    activity_id = activity_id or new_id()
    return _event(INVOLVEMENT_CORRECTED if corrected else INVOLVEMENT_RECORDED, area,
                  activity_id, {
                      "activity_id": activity_id,
                      "involvement_id": involvement_id or new_id(),
                      "org_unit": org_unit, "pseudonym": pseudonym, "step": step,
                      "hours": hours, "recognition": recognition,
                      "decision_power": decision_power, "feedback_given": feedback_given,
                      "rubric_version": rubric_version or f"{area}-1", **data}, time)


def withdrawn(area: str, activity_id: str, involvement_id: str,
              time: str | None = None) -> dict[str, Any]:
    return _event(INVOLVEMENT_WITHDRAWN, area, activity_id,
                  {"activity_id": activity_id, "involvement_id": involvement_id,
                   "reason": "recorded_in_error"}, time)


def impact(area: str, activity_id: str, *, involvement_id: str | None = None,
           impact_id: str = "", org_unit: str = "east", told_on: str | None = None,
           outcome: str = "yes", change_kind: str | None = None, corrected: bool = False,
           time: str | None = None) -> dict[str, Any]:
    """What came of an activity or one involvement in it, as an area sends it."""
    kind = change_kind or ("service_design" if outcome in ("yes", "partly") else None)
    return _event(IMPACT_CORRECTED if corrected else IMPACT_RECORDED, area, activity_id,
                  {"impact_id": impact_id or f"imp-{activity_id}-{involvement_id}",
                   "activity_id": activity_id, "involvement_id": involvement_id,
                   "org_unit": org_unit, "outcome": outcome, "change_kind": kind,
                   "told_on": told_on, "commitment": "0" * 64, "revision": 1}, time)
