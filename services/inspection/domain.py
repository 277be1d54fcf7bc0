"""Inspection: inspections of a location or service, and Experts by Experience in them.

Stages follow the CQC Experts by Experience role: planning, talking with people
who use the service, observation, writing the report and the rating discussion.
"""

from __future__ import annotations

from typing import Any

from shared.area import Area
from shared.errors import Invalid
from shared.involvement import WorkedCase, ladder_rubric, said

STAGES = ("planning", "interviews", "observation", "report_writing", "rating_discussion")
# People who use the inspected service take part in it too: told it is coming, asked
# for their views. Their role says nothing of what they did, so the involvement must.
ROLES = ("expert_by_experience", "lead_expert_by_experience", "observer",
         "person_using_service")
PHASES = ("planning", "visit", "report", "rated")
RATINGS = ("outstanding", "good", "requires_improvement", "inadequate")
SERVICE_TYPES = ("care_home", "home_care", "supported_living", "hospital_ward",
                 "mental_health", "gp_practice", "community", "other")

RUBRIC = ladder_rubric(
    "inspection",
    # Shaping the inspection plan is being there from the start.
    design_stages=("planning",),
    observer_roles=("observer",),
    open_roles=("person_using_service",),
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


# Situations of this area, each with the row of the rubric that reads it, as
# docs/rubrics.md argues (tests/unit/test_rubric.py holds the rubric to them): one or
# more for every row.
WORKED_CASES: tuple[WorkedCase, ...] = tuple(WorkedCase(*case) for case in (
    ("7", "a lead Expert by Experience plans a quality check and agrees its findings "
          "with an equal say; paid",
     said("rating_discussion", "lead_expert_by_experience", "equal_vote",
            part="decided", start=True, recognition="payment")),
    ("6a", "an equal say in the rating discussion, not in planning",
     said("rating_discussion", "expert_by_experience", "equal_vote",
            recognition="payment")),
    ("6b", "shaped the questions of the inspection plan, which the team asked",
     said("planning", "lead_expert_by_experience", "advisory", part="designed",
            influence="yes", recognition="payment")),
    ("5a", "misread: interviews 12 people who use the service; the findings feed the "
           "inspector's judgement; no part in the rating",
     said("interviews", "expert_by_experience", "advisory",
            part="contributed_experience", influence="yes", recognition="payment")),
    ("5b", "leads the interviews, with no use of them shown",
     said("interviews", "lead_expert_by_experience", "advisory", part="led",
            recognition="payment")),
    ("4", "misread, as a version-1 request: the same interviews, influence not said",
     said("interviews", "expert_by_experience", "advisory", recognition="payment")),
    ("4", "a person who uses the service, interviewed by the Expert by Experience",
     said("interviews", "person_using_service", part="asked_for_views")),
    ("3", "misread: people who use the service are told an inspection is coming and "
          "what it is for",
     said("planning", "person_using_service", part="told")),
    ("2", "shadows an inspection to learn how it is done",
     said("observation", "observer", recognition="expenses_only")),
    ("1", "made to attend a meeting with the inspectors; views not sought",
     said("observation", "person_using_service", part="required_to_attend")),
))
