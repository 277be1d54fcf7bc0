"""Recruitment: filling a vacancy, stage by stage, and citizens' part in each stage.

The stages follow co-produced interview panels, from the role specification to the
decision and induction.
"""

from __future__ import annotations

from shared.area import Area
from shared.involvement import WorkedCase, ladder_rubric, said

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
# A service-user panel sits beside the formal one and gives it its views; an attendee is
# there with no part of their own, which the involvement must then say.
ROLES = ("panel_member", "co_chair", "assessor", "question_writer", "adviser",
         "user_panel_lead", "user_panel_member", "observer", "attendee")
OUTCOMES = ("open", "appointed", "not_appointed", "withdrawn")

RUBRIC = ladder_rubric(
    "recruitment",
    # Writing the role and person specification is designing the job: the start.
    design_stages=("role_specification",),
    observer_roles=("observer",),
    open_roles=("attendee",),
)

AREA = Area(
    name="recruitment",
    activity_kind="vacancy",
    activity_path="vacancies",
    stages=STAGES,
    roles=ROLES,
    rubric=RUBRIC,
)


# Situations of this area, each with the row of the rubric that reads it, as
# docs/rubrics.md argues (tests/unit/test_rubric.py holds the rubric to them): one or
# more for every row.
WORKED_CASES: tuple[WorkedCase, ...] = tuple(WorkedCase(*case) for case in (
    ("7", "co-chairs the panel with an equal vote, having written the person "
          "specification; paid",
     said("selection_decision", "co_chair", "equal_vote", part="decided", start=True,
            recognition="payment")),
    ("7", "leads the panel from the role specification; offered payment, declined it",
     said("role_specification", "panel_member", "lead", recognition="declined")),
    ("6a", "an equal vote on the interview panel, brought in after shortlisting; paid",
     said("interview_panel", "panel_member", "equal_vote", part="decided",
            feedback=True, recognition="payment")),
    ("6a", "an equal vote from the start, but nothing offered in return",
     said("interview_panel", "panel_member", "equal_vote", start=True, feedback=True)),
    ("6b", "wrote the interview questions, which the panel asked; no vote",
     said("interview_question_design", "question_writer", "advisory", part="designed",
            influence="yes", recognition="voucher")),
    ("5a", "their scores of a candidate task changed who was appointed",
     said("candidate_task", "assessor", "advisory", part="contributed_experience",
            influence="yes", recognition="payment")),
    ("5b", "misread: runs a service-user panel whose views go to the formal panel",
     said("interview_panel", "user_panel_lead", "advisory", part="led",
            recognition="voucher")),
    ("5b", "misread: the same panel, told the outcome as well",
     said("interview_panel", "user_panel_lead", "advisory", part="led", feedback=True,
            recognition="voucher")),
    ("4", "sat on the service-user panel; the manager appointed someone else",
     said("interview_panel", "user_panel_member", "advisory", part="asked_for_views",
            influence="no", feedback=True, recognition="time_credit")),
    ("4", "a version-1 request: on the panel, no vote, nothing more said",
     said("interview_panel", "panel_member", recognition="payment")),
    ("3", "told who was appointed, and why",
     said("selection_decision", "attendee", part="told")),
    ("2", "sits in on the panel to learn how recruitment works",
     said("interview_panel", "observer", recognition="expenses_only")),
    ("1", "required to attend the new starters' induction; views not sought",
     said("induction", "attendee", part="required_to_attend")),
))
