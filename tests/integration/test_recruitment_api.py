"""Recruitment's REST API: what it writes, and what bad input gets."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from services.recruitment.models import Involvement, Outbox, Vacancy
from tests.integration.conftest import MakeApp

VACANCY = {"role": "Support worker", "org_unit": "east-home-care", "opened_on": "2026-03-01"}
INVOLVEMENT = {
    "citizen_ref": "CIT-0042",
    "stage": "interview_panel",
    "role": "panel_member",
    "hours": 3.5,
    "recognition": "payment",
    "decision_power": "equal_vote",
    "from_start": True,
    "feedback_given": True,
}


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    """The recruitment service over an empty, migrated database."""
    return make_app("recruitment")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the recruitment service."""
    return app.test_client()


def _count(app: Flask, model: Any) -> int:
    with app.extensions["db"].reading() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _outbox(app: Flask) -> list[dict[str, Any]]:
    with app.extensions["db"].reading() as session:
        payloads = session.scalars(sa.select(Outbox.payload).order_by(Outbox.id))
        return [json.loads(p) for p in payloads]


def test_recording_an_involvement_writes_it_and_its_event_together(
    app: Flask, client: FlaskClient
) -> None:
    vacancy = client.post("/v1/vacancies", json=VACANCY)
    assert vacancy.status_code == 202
    response = client.post(f"/v1/vacancies/{vacancy.json['id']}/involvements", json=INVOLVEMENT)
    assert response.status_code == 202
    body = response.json
    assert body["step"] == 7 and body["rubric_version"] == "recruitment-1"
    assert "citizen_ref" not in body and body["pseudonym"].startswith("p_")
    events = _outbox(app)
    assert [e["type"] for e in events] == ["org.ladder.activity.recorded",
                                           "org.ladder.involvement.recorded"]
    data = events[1]["data"]
    assert data["step"] == 7 and data["facts"]["decision_power"] == "equal_vote"
    assert "CIT-0042" not in json.dumps(events)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (json.dumps(VACANCY).encode(), "text/plain", 415),
        (json.dumps(VACANCY).encode(), None, 415),
        (json.dumps({**VACANCY, "role": "x" * 300000}).encode(), "application/json", 413),
        (b"[]", "application/json", 422),
    ],
)
def test_bad_requests_get_the_common_error_and_write_nothing(
    app: Flask, client: FlaskClient, body: bytes, content_type: str | None, status: int
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/v1/vacancies", data=body, headers=headers)
    assert response.status_code == status
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert response.json["code"] == status
    assert _count(app, Vacancy) == 0 and _count(app, Outbox) == 0


def test_invalid_fields_are_named(app: Flask, client: FlaskClient) -> None:
    vacancy_id = client.post("/v1/vacancies", json=VACANCY).json["id"]
    bad = {**INVOLVEMENT, "hours": -1, "recognition": "gold star"}
    del bad["stage"]
    response = client.post(f"/v1/vacancies/{vacancy_id}/involvements", json=bad)
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"hours", "recognition", "stage"}
    for field in ("hours", "recognition", "stage"):
        assert field in response.json["message"]
    assert _count(app, Involvement) == 0 and _count(app, Outbox) == 1


def test_an_involvement_in_an_unknown_vacancy_is_404_and_writes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post("/v1/vacancies/nope/involvements", json=INVOLVEMENT)
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert _count(app, Involvement) == 0 and _count(app, Outbox) == 0


def test_health_readiness_and_openapi(client: FlaskClient) -> None:
    assert client.get("/healthz").json["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "broker": "ok"}
    spec = client.get("/openapi.json").json
    assert "/v1/vacancies/{vacancy_id}/involvements" in spec["paths"]


def test_readiness_fails_when_the_broker_is_unreachable(make_app: MakeApp) -> None:
    app = make_app("recruitment", REDIS_URL="redis://127.0.0.1:1/0", BROKER_TIMEOUT=0.5)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["errors"]["checks"]["broker"] == "unreachable"
