"""A valid activity and involvement for each area, as its API takes them."""

from __future__ import annotations

from typing import Any

AREAS = ("recruitment", "training", "inspection")
PATHS = {"recruitment": "vacancies", "training": "sessions", "inspection": "inspections"}

ACTIVITIES: dict[str, dict[str, Any]] = {
    "recruitment": {"role": "Support worker", "org_unit": "east-home-care",
                    "opened_on": "2026-03-01"},
    "training": {"course_id": "SW-101", "org_unit": "learning-academy",
                 "delivered_on": "2026-04-14", "learners": 24},
    "inspection": {"location": "Rose House", "service_type": "care_home",
                   "org_unit": "north-region", "planned_on": "2026-05-02"},
}
STAGES = {"recruitment": "interview_panel", "training": "co_delivery",
          "inspection": "observation"}
ROLES = {"recruitment": "panel_member", "training": "co_trainer",
         "inspection": "expert_by_experience"}
COURSE = {"id": "SW-101", "title": "Safeguarding adults", "programme": "Social work degree",
          "org_unit": "learning-academy"}


def involvement(area: str, citizen: str = "CIT-0042", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "citizen_ref": citizen,
        "stage": STAGES[area],
        "role": ROLES[area],
        "hours": 3.5,
        "recognition": "payment",
        "decision_power": "equal_vote",
        "from_start": True,
        "feedback_given": True,
    }
    body.update(changes)
    return body
