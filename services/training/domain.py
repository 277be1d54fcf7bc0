"""Training: programmes, courses and the sessions delivered, and citizens' part in them.

Contributions follow HCPC and SCIE guidance on service-user involvement in
training, from curriculum co-design to evaluation.
"""

from __future__ import annotations

from shared.area import Area
from shared.involvement import ladder_rubric

STAGES = (
    "curriculum_co_design",
    "co_delivery",
    "lived_experience_teaching",
    "student_selection",
    "student_assessment",
    "evaluation",
)
ROLES = ("co_trainer", "lived_experience_educator", "assessor", "selection_panel_member",
         "adviser", "observer")
MODES = ("in_person", "online", "blended")

RUBRIC = ladder_rubric(
    "training",
    "training-1",
    # Co-designing the curriculum is being there before anything is taught.
    design_stages=("curriculum_co_design",),
    observer_roles=("observer",),
)


AREA = Area(
    name="training",
    activity_kind="session",
    activity_path="sessions",
    stages=STAGES,
    roles=ROLES,
    rubric=RUBRIC,
)
