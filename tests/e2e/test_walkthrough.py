"""The README's walk-through, against the real processes."""

from __future__ import annotations

import requests

from shared.config import SERVICES
from tests.e2e.conftest import Stack
from tests.support.client import record_involvements, record_vacancy


def test_an_involvement_reaches_the_ledger_through_celery_and_redis(stack: Stack) -> None:
    base = stack.url("recruitment")
    vacancy_id = record_vacancy(base)
    [recorded] = record_involvements(base, vacancy_id, 1)
    entries = stack.wait_for_entries(2, timeout=10)
    assert [e["event"]["type"] for e in entries] == [
        "org.ladder.activity.recorded", "org.ladder.involvement.recorded"]
    assert [e["seq"] for e in entries] == [1, 2]
    data = entries[1]["event"]["data"]
    assert data["involvement_id"] == recorded["id"]
    assert (data["step"], data["rubric_version"]) == (7, "recruitment-1")
    assert data["pseudonym"] == recorded["pseudonym"]
    only_involvements = stack.entries(type="org.ladder.involvement.recorded")
    assert [e["seq"] for e in only_involvements] == [2]


def test_every_service_reports_health_readiness_and_openapi(stack: Stack) -> None:
    for service in SERVICES:
        base = stack.url(service)
        assert requests.get(base + "/healthz", timeout=5).json()["status"] == "ok"
        ready = requests.get(base + "/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        spec = requests.get(base + "/openapi.json", timeout=5).json()
        assert spec["info"]["title"] == f"Ladder {service}"
