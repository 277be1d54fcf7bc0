"""Inspection in ``ladder demo``: inspections in two regions, and a sample inspection."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from shared.area.demo import Demo, Prerequisite, Sample

LOCATIONS = (("Rose House", "care_home"), ("Oak Lodge", "care_home"),
             ("Riverside Home Care", "home_care"), ("Willow Court", "supported_living"),
             ("Ward 7", "hospital_ward"), ("Hillside Community Team", "mental_health"),
             ("Market Street Surgery", "gp_practice"))


def inspection(rng: random.Random, _unit: str, day: date,
               _set_up: list[Prerequisite]) -> dict[str, Any]:
    location, kind = rng.choice(LOCATIONS)
    return {"location": location, "service_type": kind, "planned_on": day.isoformat()}


def interviews(rng: random.Random, stage: str) -> dict[str, Any]:
    """An Expert by Experience talks with people who use the service at that stage only."""
    return {"interviews_count": rng.randint(3, 12)} if stage == "interviews" else {}


DEMO = Demo(
    sample=Sample(activity={"location": "Rose House", "service_type": "care_home",
                            "org_unit": "north-region", "planned_on": "2026-05-02"},
                  stage="observation", role="expert_by_experience"),
    units=("north-region", "south-region"),
    per_month=7,
    citizens=25,
    involved=0.6,
    hours=(4.0, 8.0),
    stages=("planning", "interviews", "observation", "report_writing", "rating_discussion"),
    roles=("expert_by_experience", "lead_expert_by_experience"),
    activity=inspection,
    extras=interviews,
)
