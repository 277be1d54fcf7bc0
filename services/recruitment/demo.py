"""Recruitment in ``ladder demo``: vacancies in three units, and a sample vacancy."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from shared.area.demo import Demo, Prerequisite, Sample

JOBS = ("Support worker", "Registered nurse", "Social worker", "Occupational therapist",
        "Care coordinator", "Team manager", "Peer support worker")


def vacancy(rng: random.Random, _unit: str, day: date,
            _set_up: list[Prerequisite]) -> dict[str, Any]:
    return {"role": rng.choice(JOBS), "opened_on": day.isoformat()}


DEMO = Demo(
    sample=Sample(activity={"role": "Support worker", "org_unit": "east-home-care",
                            "opened_on": "2026-03-01"},
                  stage="interview_panel", role="panel_member"),
    units=("east-home-care", "west-home-care", "hospital-wards"),
    per_month=8,
    citizens=70,
    involved=0.35,
    hours=(1.0, 6.0),
    stages=("role_specification", "shortlisting", "interview_question_design",
            "interview_panel", "candidate_task", "selection_decision"),
    roles=("panel_member", "co_chair", "assessor", "question_writer", "adviser"),
    activity=vacancy,
)
