"""Training in ``ladder demo``: four courses and their sessions, and a sample session."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from services.training.domain import MODES
from shared.area.demo import Demo, Prerequisite, Sample

COURSES = (("SAFE-ADULTS", "Safeguarding adults", "Social work degree"),
           ("MCA-DOLS", "Mental Capacity Act in practice", "Post-qualifying"),
           ("DEMENTIA", "Living well with dementia", "Nursing degree"),
           ("CARE-PLAN", "Co-producing care plans", "Care certificate"))


def courses(tag: str) -> list[Prerequisite]:
    """The courses the learning-management system sets up first: a session has one."""
    return [Prerequisite("/v1/courses", {"id": f"{tag}-{code}", "title": title,
                                         "programme": programme,
                                         "org_unit": "learning-academy"})
            for code, title, programme in COURSES]


def session(rng: random.Random, _unit: str, day: date,
            set_up: list[Prerequisite]) -> dict[str, Any]:
    return {"course_id": rng.choice(set_up).body["id"], "delivered_on": day.isoformat(),
            "mode": rng.choice(MODES), "learners": rng.randint(8, 40)}


DEMO = Demo(
    sample=Sample(activity={"course_id": "SW-101", "org_unit": "learning-academy",
                            "delivered_on": "2026-04-14", "learners": 24},
                  stage="co_delivery", role="co_trainer",
                  prerequisites=(Prerequisite("/v1/courses", {
                      "id": "SW-101", "title": "Safeguarding adults",
                      "programme": "Social work degree", "org_unit": "learning-academy"}),)),
    units=("learning-academy", "nursing-school"),
    per_month=8,
    citizens=45,
    involved=0.5,
    hours=(2.0, 7.0),
    stages=("curriculum_co_design", "co_delivery", "lived_experience_teaching",
            "student_selection", "student_assessment", "evaluation"),
    roles=("co_trainer", "lived_experience_educator", "assessor", "selection_panel_member",
           "adviser"),
    activity=session,
    setup=courses,
)
