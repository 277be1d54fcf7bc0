"""Rubric 2 through every area's API: new involvements, corrections, webhooks, CloudEvents,
the explanation route, and version-1 involvements that are never re-derived."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from standardwebhooks import Webhook

from services import area_packages
from shared.area.integrations import create_integration
from shared.area.models import Involvement
from shared.envelope import new_event
from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, PATHS, involvement


def _attendee(area: AreaClient) -> str:
    """The area's role that says nothing of what the citizen did."""
    [role] = area_packages.domain(area.area).rubric.open_roles
    return role


def _facts(area: AreaClient, **changes: Any) -> dict[str, Any]:
    """The sample involvement's facts, without the citizen: what a correction sends."""
    return {k: v for k, v in involvement(area.area, **changes).items() if k != "citizen_ref"}


def _activity(area: AreaClient) -> str:
    response = area.post(f"/v1/{PATHS[area.area]}", json=ACTIVITIES[area.area])
    assert response.status_code == 202, response.json
    return str(response.json["id"])


def _record(area: AreaClient, **changes: Any) -> Any:
    return area.post(f"/v1/{PATHS[area.area]}/{_activity(area)}/involvements",
                     json=involvement(area.area, **changes))


def test_a_new_involvement_is_derived_under_rubric_2_from_the_new_facts(
        area: AreaClient) -> None:
    response = _record(area, decision_power="advisory", from_start=False,
                       feedback_given=False, part="contributed_experience", influence="yes")
    assert response.status_code == 202, response.json
    body = response.json
    assert (body["step"], body["rubric_version"], body["rubric_rule"]) == (
        5, f"{area.area}-2", f"{area.area}-2.5a")
    assert (body["part"], body["influence"]) == ("contributed_experience", "yes")
    data = area.events()[-1]["data"]
    assert (data["step"], data["rubric_rule"]) == (5, f"{area.area}-2.5a")
    assert (data["facts"]["part"], data["facts"]["influence"]) == (
        "contributed_experience", "yes")
    stored = area.get(f"/v1/involvements/{body['id']}").json
    assert (stored["step"], stored["part"], stored["influence"]) == (
        5, "contributed_experience", "yes")


def test_an_attendee_must_say_what_they_did(area: AreaClient) -> None:
    activity_id = _activity(area)
    before = area.contents()
    path = f"/v1/{PATHS[area.area]}/{activity_id}/involvements"
    refused = area.post(path, json=involvement(area.area, role=_attendee(area),
                                               decision_power="none"))
    assert refused.status_code == 422, refused.json
    assert set(refused.json) == {"code", "status", "message", "errors"}
    assert refused.json["errors"] == {"json": {"part": ["Required with this role."]}}
    assert area.contents() == before
    told = area.post(path, json=involvement(area.area, role=_attendee(area),
                                            decision_power="none", from_start=False,
                                            feedback_given=False, part="told"))
    assert (told.json["step"], told.json["rubric_rule"]) == (3, f"{area.area}-2.3")


def test_a_shared_decision_from_the_start_is_co_production_without_feedback(
        area: AreaClient) -> None:
    response = _record(area, decision_power="equal_vote", from_start=True,
                       feedback_given=False)
    assert (response.json["step"], response.json["rubric_rule"]) == (7, f"{area.area}-2.7")


def test_a_correction_is_derived_under_rubric_2(area: AreaClient) -> None:
    inv = _record(area).json
    response = area.post(f"/v1/involvements/{inv['id']}/corrections",
                         json=_facts(area, decision_power="none", from_start=False,
                                     feedback_given=False, part="required_to_attend",
                                     role=_attendee(area)))
    assert response.status_code == 202, response.json
    assert (response.json["step"], response.json["rubric_rule"]) == (1, f"{area.area}-2.1")
    corrected = area.events()[-1]
    assert corrected["type"] == "org.ladder.involvement.corrected"
    assert (corrected["data"]["rubric_version"], corrected["data"]["facts"]["part"]) == (
        f"{area.area}-2", "required_to_attend")


def _as_recorded_under_rubric_1(area: AreaClient, involvement_id: str) -> None:
    """Put the involvement back as rubric 1 left it: its step and row, no new facts."""
    with area.app.extensions["db"].writing() as session:
        session.execute(sa.update(Involvement).where(Involvement.id == involvement_id).values(
            step=6, rubric_version=f"{area.area}-1", rubric_rule=f"{area.area}-6b",
            extras="{}"))


def test_a_version_1_involvement_keeps_its_step_until_a_correction_makes_it_version_2(
        area: AreaClient) -> None:
    inv = _record(area, decision_power="advisory").json
    _as_recorded_under_rubric_1(area, inv["id"])
    events = area.events()
    # Nothing re-derives it: reading it, or recording others, leaves it as it was.
    _record(area)
    kept = area.get(f"/v1/involvements/{inv['id']}").json
    assert (kept["step"], kept["rubric_version"], kept["rubric_rule"]) == (
        6, f"{area.area}-1", f"{area.area}-6b")
    assert "part" not in kept and "influence" not in kept
    response = area.post(f"/v1/involvements/{inv['id']}/corrections",
                         json=_facts(area, decision_power="advisory"))
    assert response.status_code == 202, response.json
    # The same facts, now read under rubric 2: designed from the start, no influence shown.
    assert (response.json["step"], response.json["rubric_version"],
            response.json["rubric_rule"], response.json["revision"]) == (
        5, f"{area.area}-2", f"{area.area}-2.5b", 2)
    corrected = area.events()[-1]["data"]
    assert (corrected["step"], corrected["rubric_version"], corrected["rubric_rule"]) == (
        5, f"{area.area}-2", f"{area.area}-2.5b")
    # The events already written are as they were.
    assert area.events()[:len(events)] == events


def _signed(secret: str, command: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(command)
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    return body.encode(), {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                           "webhook-signature": Webhook(secret).sign(msg_id, now, body),
                           "Content-Type": "application/json"}


def test_webhooks_record_and_correct_under_rubric_2(area: AreaClient) -> None:
    secret = create_integration(area.app.extensions["db"], "hr-system")

    def deliver(command: dict[str, Any]) -> Any:
        data, headers = _signed(secret, command)
        return area.http.post("/v1/webhooks/hr-system", data=data, headers=headers)

    assert deliver({"type": "activity.recorded",
                    "data": {**ACTIVITIES[area.area], "id": "HR-1"}}).status_code == 202
    recorded = deliver({"type": "involvement.recorded", "data": {
        "activity_id": "HR-1", **involvement(area.area, decision_power="advisory",
                                             from_start=False, part="led")}})
    assert recorded.status_code == 202, recorded.json
    result = recorded.json["result"]
    assert (result["step"], result["rubric_rule"]) == (5, f"{area.area}-2.5b")
    corrected = deliver({"type": "involvement.corrected", "data": {
        "id": result["id"], **_facts(area, decision_power="advisory", from_start=False,
                                     part="led", influence="yes")}})
    assert corrected.status_code == 202, corrected.json
    assert (corrected.json["result"]["step"], corrected.json["result"]["rubric_rule"]) == (
        6, f"{area.area}-2.6b")
    refused = deliver({"type": "involvement.corrected", "data": {
        "id": result["id"], **_facts(area, influence="perhaps")}})
    assert refused.status_code == 422
    assert "influence" in refused.json["errors"]["data"]


def test_cloudevents_carry_the_new_facts(area: AreaClient) -> None:
    events = [new_event(type="org.ladder.activity.recorded", source="/lms", subject="x",
                        data={**ACTIVITIES[area.area], "id": "CE-1"}),
              new_event(type="org.ladder.involvement.recorded", source="/lms", subject="x",
                        data={"activity_id": "CE-1", **involvement(
                            area.area, decision_power="none", from_start=False,
                            feedback_given=False, part="shown_how_it_works")})]
    response = area.post("/v1/events", data=json.dumps(events),
                         headers={"Content-Type": "application/cloudevents-batch+json"})
    assert response.status_code == 202, response.json
    assert response.json["results"][1]["result"]["rubric_rule"] == f"{area.area}-2.2"


def test_the_explanation_names_the_row_and_its_source_and_records_nothing(
        area: AreaClient) -> None:
    before = area.contents()
    said = {k: v for k, v in _facts(area, decision_power="advisory", from_start=False,
                                      feedback_given=False).items() if k != "hours"}
    answer = area.post("/v1/rubric/explanation", verb="read", json=said)
    assert answer.status_code == 200, answer.json
    assert (answer.json["rubric_version"], answer.json["step"], answer.json["rung"]) == (
        f"{area.area}-2", 4, "consultation")
    row = answer.json["row"]
    assert (row["id"], row["step"]) == (f"{area.area}-2.4", 4)
    assert row["source"]["quote"].startswith("Service providers ask service users")
    assert row["source"]["url"].startswith("https://")
    assert (answer.json["facts"]["part"], answer.json["facts"]["influence"]) == (
        "asked_for_views", "unknown")
    refused = area.post("/v1/rubric/explanation", verb="read",
                        json={**said, "role": _attendee(area), "decision_power": "none"})
    assert refused.status_code == 422
    assert set(refused.json) == {"code", "status", "message", "errors"}
    assert "part" in refused.json["errors"]["json"]
    invalid = area.post("/v1/rubric/explanation", verb="read", json={**said, "part": "chatted"})
    assert invalid.status_code == 422 and "part" in invalid.json["errors"]["json"]
    assert area.contents() == before
