"""A thin HTTP client for the walk-through the README shows."""

from __future__ import annotations

from typing import Any

import requests

VACANCY = {"role": "Support worker", "org_unit": "east-home-care", "opened_on": "2026-03-01"}


def involvement(citizen: str = "CIT-0001", **overrides: Any) -> dict[str, Any]:
    return {
        "citizen_ref": citizen,
        "stage": "interview_panel",
        "role": "panel_member",
        "hours": 3.0,
        "recognition": "payment",
        "decision_power": "equal_vote",
        "from_start": True,
        "feedback_given": True,
        **overrides,
    }


def record_vacancy(base: str) -> str:
    response = requests.post(f"{base}/v1/vacancies", json=VACANCY, timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def record_involvements(base: str, vacancy_id: str, n: int) -> list[dict[str, Any]]:
    bodies = []
    for i in range(n):
        response = requests.post(f"{base}/v1/vacancies/{vacancy_id}/involvements",
                                 json=involvement(f"CIT-{i:04d}"), timeout=10)
        assert response.status_code == 202, response.text
        bodies.append(response.json())
    return bodies
