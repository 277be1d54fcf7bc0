"""Inspection: inspections of a location or service, and Experts by Experience in them.

Stages follow the CQC Experts by Experience role: planning, talking with people
who use the service, observation, writing the report and the rating discussion.
"""

from __future__ import annotations

from typing import Any

from shared.area import Area
from shared.errors import Invalid
from shared.involvement import ladder_rubric

STAGES = ("planning", "interviews", "observation", "report_writing", "rating_discussion")
ROLES = ("expert_by_experience", "lead_expert_by_experience", "observer")
PHASES = ("planning", "visit", "report", "rated")
RATINGS = ("outstanding", "good", "requires_improvement", "inadequate")
SERVICE_TYPES = ("care_home", "home_care", "supported_living", "hospital_ward",
                 "mental_health", "gp_practice", "community", "other")

RUBRIC = ladder_rubric(
    "inspection",
    "inspection-1",
    # Shaping the inspection plan is being there from the start.
    design_stages=("planning",),
    observer_roles=("observer",),
)


def check_involvement(fields: dict[str, Any]) -> None:
    """Interviews with people who use the service are counted only at that stage."""
    if fields.get("interviews_count", 0) and fields["stage"] != "interviews":
        raise Invalid("interviews_count applies only to the interviews stage.",
                      {"json": {"interviews_count": ["Only at the interviews stage."]}})


AREA = Area(
    name="inspection",
    activity_kind="inspection",
    activity_path="inspections",
    stages=STAGES,
    roles=ROLES,
    rubric=RUBRIC,
    check_involvement=check_involvement,
)
