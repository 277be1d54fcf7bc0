"""Recruitment: filling a vacancy, stage by stage, and citizens' part in each stage.

The stages follow co-produced interview panels, from the role specification to the
decision and induction.
"""

from __future__ import annotations

from shared.area import Area
from shared.involvement import ladder_rubric

STAGES = (
    "role_specification",
    "advert",
    "shortlisting",
    "interview_question_design",
    "interview_panel",
    "candidate_task",
    "selection_decision",
    "induction",
)
ROLES = ("panel_member", "co_chair", "assessor", "question_writer", "adviser", "observer")
OUTCOMES = ("open", "appointed", "not_appointed", "withdrawn")

RUBRIC = ladder_rubric(
    "recruitment",
    "recruitment-1",
    # Writing the role and person specification is designing the job: the start.
    design_stages=("role_specification",),
    observer_roles=("observer",),
)

AREA = Area(
    name="recruitment",
    activity_kind="vacancy",
    activity_path="vacancies",
    stages=STAGES,
    roles=ROLES,
    rubric=RUBRIC,
)
