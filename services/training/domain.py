"""Training: programmes, courses and the sessions delivered, and citizens' part in them.

Contributions follow HCPC and SCIE guidance on service-user involvement in
training, from curriculum co-design to evaluation.
"""

from __future__ import annotations

from shared.area import Area
from shared.involvement import WorkedCase, ladder_rubric, said

STAGES = (
    "curriculum_co_design",
    "co_delivery",
    "lived_experience_teaching",
    "student_selection",
    "student_assessment",
    "evaluation",
)
# An attendee is there with no part of their own, which the involvement must then say.
ROLES = ("co_trainer", "lived_experience_educator", "assessor", "selection_panel_member",
         "adviser", "observer", "attendee")
MODES = ("in_person", "online", "blended")

RUBRIC = ladder_rubric(
    "training",
    # Co-designing the curriculum is being there before anything is taught.
    design_stages=("curriculum_co_design",),
    observer_roles=("observer",),
    open_roles=("attendee",),
)


AREA = Area(
    name="training",
    activity_kind="session",
    activity_path="sessions",
    stages=STAGES,
    roles=ROLES,
    rubric=RUBRIC,
)


# Situations of this area, each with the row of the rubric that reads it, as
# docs/rubrics.md argues (tests/unit/test_rubric.py holds the rubric to them): one or
# more for every row.
WORKED_CASES: tuple[WorkedCase, ...] = tuple(WorkedCase(*case) for case in (
    ("7", "misread: co-designed the curriculum and co-delivers every session with an "
          "equal say; paid; feedback not stated",
     said("co_delivery", "co_trainer", "equal_vote", part="designed", start=True,
            recognition="payment")),
    ("6a", "an equal vote on selecting students, not on the programme's design",
     said("student_selection", "selection_panel_member", "equal_vote",
            recognition="payment")),
    ("6b", "wrote a module with the programme team, which the course now teaches",
     said("curriculum_co_design", "adviser", "advisory", part="designed",
            influence="yes", recognition="time_credit")),
    ("5a", "misread: a paid lived-experience educator gives a talk in a session staff "
           "designed; no say on content; their experience is the content",
     said("lived_experience_teaching", "lived_experience_educator",
            part="contributed_experience", influence="yes", recognition="payment")),
    ("5b", "leads a session they planned, with no say on the course beyond it",
     said("co_delivery", "lived_experience_educator", part="led",
            recognition="payment")),
    ("4", "misread, as a version-1 request: the same talk, influence not said",
     said("lived_experience_teaching", "lived_experience_educator",
            recognition="payment")),
    ("4", "asked for views on the course in its evaluation",
     said("evaluation", "adviser", "advisory", recognition="voucher")),
    ("3", "told how the course changed after its evaluation",
     said("evaluation", "attendee", part="required_to_attend", feedback=True)),
    ("2", "sits in on a session to see how teaching is done",
     said("co_delivery", "observer")),
    ("1", "misread: must attend as a condition of support, with no views sought",
     said("lived_experience_teaching", "attendee", part="required_to_attend")),
))
