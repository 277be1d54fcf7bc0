"""CloudEvents into every area, in structured, binary and batch HTTP modes."""

from __future__ import annotations

import json
from typing import Any

from shared.envelope import new_event
from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, involvement

CE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


def _event(command: str, data: dict[str, Any], id: str | None = None) -> dict[str, Any]:
    return new_event(type=f"org.ladder.{command}", source="/lms/moodle", subject="x",
                     data=data, id=id)


def _post(area: AreaClient, body: Any, content_type: str, **headers: str) -> Any:
    return area.post("/v1/events", data=json.dumps(body),
                     headers={"Content-Type": content_type, **headers})


def test_structured_mode(area: AreaClient) -> None:
    event = _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-1"})
    response = _post(area, event, CE)
    assert response.status_code == 202, response.json
    assert response.json["result"]["id"] == "LMS-1"


def test_binary_mode(area: AreaClient) -> None:
    response = _post(area, {**ACTIVITIES[area.area], "id": "LMS-2"}, "application/json", **{
        "ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/lms/moodle",
        "ce-type": "org.ladder.activity.recorded"})
    assert response.status_code == 202, response.json
    assert area.events()[0]["data"]["activity_id"] == "LMS-2"


def test_binary_mode_without_ce_headers_is_400(area: AreaClient) -> None:
    before = area.contents()
    response = _post(area, ACTIVITIES[area.area], "application/json")
    assert response.status_code == 400
    assert area.contents() == before


def test_a_batch_applies_every_event_in_order(area: AreaClient) -> None:
    batch = [_event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-3"})] + [
        _event("involvement.recorded", {"activity_id": "LMS-3", **involvement(area.area, f"C{i}")})
        for i in range(5)]
    response = _post(area, batch, BATCH)
    assert response.status_code == 202, response.json
    assert len(response.json["results"]) == 6
    assert area.count("involvements") == 5 and len(area.events()) == 6


def test_a_batch_with_one_bad_event_applies_none(area: AreaClient) -> None:
    before = area.contents()
    good = _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-4"})
    bad = _event("involvement.recorded", {"activity_id": "LMS-4", **involvement(area.area)})
    bad["data"]["hours"] = "lots"
    response = _post(area, [good, bad], BATCH)
    assert response.status_code == 422
    assert "hours" in json.dumps(response.json["errors"])
    assert area.contents() == before
    no_id = {k: v for k, v in good.items() if k != "id"}
    response = _post(area, [good, no_id], BATCH)
    assert response.status_code == 422 and "1.id" in response.json["message"]
    assert area.contents() == before


def test_a_repeated_event_is_applied_once(area: AreaClient) -> None:
    event = _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-5"}, id="ev-1")
    first = _post(area, event, CE)
    after_first = area.contents()
    again = _post(area, [event, event], BATCH)
    assert first.status_code == again.status_code == 202
    assert area.contents() == after_first
    assert again.json["results"][0]["result"] == first.json["result"]


def test_events_need_a_write_token(area: AreaClient) -> None:
    event = _event("activity.recorded", {**ACTIVITIES[area.area]})
    response = area.http.post("/v1/events", data=json.dumps(event),
                              headers={"Content-Type": CE})
    assert response.status_code == 401
    assert _post(area, event, CE, Authorization=f"Bearer {area.tokens['read']}"
                 ).status_code == 403


def test_a_batch_sees_its_own_earlier_events(area: AreaClient) -> None:
    # The activity, and the citizen first met in this batch, are known to later events.
    batch = [_event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-6"})] + [
        _event("involvement.recorded", {"activity_id": "LMS-6", **involvement(area.area, "C-same")})
        for _ in range(3)]
    response = _post(area, batch, BATCH)
    assert response.status_code == 202, response.json
    pseudonyms = {r["result"]["pseudonym"] for r in response.json["results"][1:]}
    assert len(pseudonyms) == 1
    assert area.count("citizens") == 1 and area.count("involvements") == 3


def test_a_batch_that_reuses_an_id_applies_none(area: AreaClient) -> None:
    assert _post(area, _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-7"}),
                 CE).status_code == 202
    before = area.contents()
    twice = [_event("involvement.recorded", {"activity_id": "LMS-7", "id": "INV-1",
                                             **involvement(area.area)}) for _ in range(2)]
    response = _post(area, twice, BATCH)
    assert response.status_code == 409, response.json
    taken = [_event("involvement.recorded", {"activity_id": "LMS-7",
                                             **involvement(area.area)}),
             _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-7"})]
    response = _post(area, taken, BATCH)
    assert response.status_code == 409, response.json
    assert area.contents() == before
