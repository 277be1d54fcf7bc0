"""A thin HTTP client for the walk-through the README shows."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.areas import ACTIVITIES, involvement


def record_vacancy(base: str, auth: dict[str, str]) -> str:
    response = requests.post(f"{base}/v1/vacancies", json=ACTIVITIES["recruitment"],
                             headers=auth, timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def record_involvements(base: str, auth: dict[str, str], vacancy_id: str,
                        n: int) -> list[dict[str, Any]]:
    bodies = []
    with requests.Session() as http:
        for i in range(n):
            response = http.post(f"{base}/v1/vacancies/{vacancy_id}/involvements",
                                 json=involvement("recruitment", f"CIT-{i:04d}"), headers=auth,
                                 timeout=10)
            assert response.status_code == 202, response.text
            bodies.append(response.json())
    return bodies
