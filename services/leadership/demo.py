"""Leadership in ``ladder demo``: meetings in four units, and a sample meeting."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from shared.area.demo import Demo, Prerequisite, Sample

# Each unit's forums: (forum, forum_type).
FORUMS = {
    "corporate-governance": (("Trust board", "board"), ("Quality committee", "committee"),
                             ("People and culture committee", "committee")),
    "transformation": (("Mental health strategy", "strategy_programme"),
                       ("Urgent care redesign", "service_change_programme")),
    "community-partnerships": (("Carers' co-production group", "co_production_group"),
                               ("Learning disability partnership board",
                                "co_production_group")),
    "organisational-development": (("Leading with lived experience",
                                    "leadership_development"),),
}


def meeting(rng: random.Random, unit: str, day: date,
            _set_up: list[Prerequisite]) -> dict[str, Any]:
    forum, forum_type = rng.choice(FORUMS[unit])
    return {"forum": forum, "forum_type": forum_type, "held_on": day.isoformat()}


DEMO = Demo(
    sample=Sample(activity={"forum": "Quality committee", "forum_type": "committee",
                            "org_unit": "corporate-governance", "held_on": "2026-06-11"},
                  stage="deliberation", role="ppv_partner"),
    units=tuple(FORUMS),
    per_month=4,
    citizens=30,
    involved=0.45,
    hours=(1.5, 4.0),
    stages=("terms_of_reference", "agenda_setting", "insight", "options_development",
            "deliberation", "decision", "delivery", "review"),
    roles=("ppv_partner", "lived_experience_board_member", "co_chair", "member", "educator",
           "adviser"),
    activity=meeting,
)
