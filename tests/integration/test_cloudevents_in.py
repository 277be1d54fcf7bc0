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


def _impact(**target: str) -> dict[str, Any]:
    return {"said": "More evening sessions.", "outcome": "yes", "change_kind": "recruitment",
            "what_changed": "Two evening sessions a month.", "told_on": "2026-03-02", **target}


def test_a_batch_writes_its_records_in_any_order_of_commands(area: AreaClient) -> None:
    # Records a batch makes go in together, parents before children, whatever the order of
    # its commands: an involvement in a known activity first, then a new activity, an
    # involvement and a record of impact that need it, then a change to it.
    assert _post(area, _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-8"}),
                 CE).status_code == 202
    batch = [
        _event("involvement.recorded", {"activity_id": "LMS-8", **involvement(area.area, "A")}),
        _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-9",
                                     "org_unit": "ward-1"}),
        _event("involvement.recorded", {"activity_id": "LMS-9", "id": "INV-9",
                                        **involvement(area.area, "B")}),
        _event("impact.recorded", _impact(activity_id="LMS-9")),
        _event("activity.updated", {"id": "LMS-9", "org_unit": "ward-2"}),
        _event("impact.recorded", _impact(involvement_id="INV-9")),
        _event("involvement.recorded", {"activity_id": "LMS-9", **involvement(area.area, "C")}),
    ]
    response = _post(area, batch, BATCH)
    assert response.status_code == 202, response.json
    events = area.events()[-7:]
    assert [e["type"].removeprefix("org.ladder.") for e in events] == [
        e["type"].removeprefix("org.ladder.") for e in batch]
    # Each command saw the activity as the commands before it left it.
    assert [e["data"]["org_unit"] for e in events[2:]] == [
        "ward-1", "ward-1", "ward-2", "ward-2", "ward-2"]
    assert area.get("/v1/impacts").json["items"][-1]["involvement_id"] == "INV-9"


def test_a_batch_sees_a_withdrawal_it_made(area: AreaClient) -> None:
    assert _post(area, _event("activity.recorded", {**ACTIVITIES[area.area], "id": "LMS-10"}),
                 CE).status_code == 202
    before = area.contents()
    record = _event("involvement.recorded", {"activity_id": "LMS-10", "id": "INV-10",
                                             **involvement(area.area)})
    withdraw = _event("involvement.withdrawn", {"id": "INV-10", "reason": "citizen_request"})
    impacts = [_event("impact.recorded", _impact(involvement_id="INV-10")) for _ in range(2)]
    # A record of impact on an involvement the same batch withdrew is refused, and with it
    # the whole batch.
    response = _post(area, [record, impacts[0], withdraw, impacts[1]], BATCH)
    assert response.status_code == 409, response.json
    assert "withdrawn" in response.json["message"]
    assert area.contents() == before
    response = _post(area, [record, impacts[0], withdraw], BATCH)
    assert response.status_code == 202, response.json
