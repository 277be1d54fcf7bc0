"""Recruitment: vacancies, the stages of filling one, and the rubric for citizens' part in it."""

from __future__ import annotations

from shared.involvement import ladder_rubric

AREA = "recruitment"
SOURCE = "/ladder/recruitment"

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

RUBRIC = ladder_rubric(
    AREA,
    "recruitment-1",
    design_stages=("role_specification",),
    observer_roles=("observer",),
)
