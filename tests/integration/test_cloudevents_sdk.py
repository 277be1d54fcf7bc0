"""CloudEvents made and sent with the CNCF Python SDK (``cloudevents`` on PyPI), in every area.

The SDK's own HTTP bindings write the requests: ``to_binary`` and ``to_structured``
of its current API (``cloudevents.core``), and of the API of its 1.x releases that it
still ships (``cloudevents.v1``). Binary mode carries no Content-Type unless the event
has a ``datacontenttype``: both are sent. The SDK has no batch helper (neither API
writes ``application/cloudevents-batch+json``), so a batch is the JSON array of the
SDK's structured JSON for each event, as the CloudEvents JSON batch format says.

Each event must be applied (the activity or involvement can be read back) and the
SDK's ``time`` must become the event's time, as ``occurred_at`` would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1 import conversion as legacy
from cloudevents.v1.http import CloudEvent as LegacyCloudEvent

from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, PATHS, involvement

BATCH = "application/cloudevents-batch+json"
SOURCE = "/lms/sdk"
# With microseconds, and in another offset, so that the normalisation shows.
WHEN = datetime(2026, 2, 3, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
WHEN_IN_LEDGER = "2026-02-03T08:30:15.123456Z"
LATER = datetime(2026, 2, 4, 10, 0, tzinfo=UTC)
LATER_IN_LEDGER = "2026-02-04T10:00:00.000000Z"


def _event(command: str, data: dict[str, Any], when: datetime | None = WHEN,
           **attributes: Any) -> CloudEvent:
    given = {"type": f"org.ladder.{command}", "source": SOURCE, **attributes}
    if when is not None:
        given["time"] = when
    return CloudEvent(attributes=given, data=data)


def _post(area: AreaClient, message: HTTPMessage | tuple[dict[str, str], bytes]) -> Any:
    headers, body = ((message.headers, message.body) if isinstance(message, HTTPMessage)
                     else message)
    return area.post("/v1/events", data=body, headers=dict(headers))


def _activity(area: AreaClient, activity_id: str) -> dict[str, Any]:
    return {**ACTIVITIES[area.area], "id": activity_id}


def _applied_activity(area: AreaClient, activity_id: str, when: str) -> None:
    """The activity can be read back, and its event is dated by the SDK's time."""
    found = area.get(f"/v1/{PATHS[area.area]}/{activity_id}")
    assert found.status_code == 200, found.json
    [event] = [e for e in area.events() if e["type"] == "org.ladder.activity.recorded"
               and e["data"]["activity_id"] == activity_id]
    assert event["time"] == when
    assert "occurred_at" not in event["data"]


def _applied_involvement(area: AreaClient, involvement_id: str, when: str) -> None:
    found = area.get(f"/v1/involvements/{involvement_id}")
    assert found.status_code == 200, found.json
    [event] = [e for e in area.events() if e["type"] == "org.ladder.involvement.recorded"
               and e["data"]["involvement_id"] == involvement_id]
    assert event["time"] == when
    assert "occurred_at" not in event["data"]


@pytest.mark.parametrize("content_type", [None, "application/json"],
                         ids=["no-content-type", "application-json"])
def test_binary_mode_with_or_without_a_content_type(area: AreaClient,
                                                    content_type: str | None) -> None:
    extra = {"datacontenttype": content_type} if content_type else {}
    message = to_binary(_event("activity.recorded", _activity(area, "SDK-B1"), **extra),
                        JSONFormat())
    assert ("content-type" in {k.lower() for k in message.headers}) == bool(content_type)
    assert message.headers["ce-time"] == "2026-02-03T09:30:15.123456+01:00"
    response = _post(area, message)
    assert response.status_code == 202, response.json
    assert response.json["result"]["id"] == "SDK-B1"
    _applied_activity(area, "SDK-B1", WHEN_IN_LEDGER)
    message = to_binary(_event("involvement.recorded",
                               {"activity_id": "SDK-B1", **involvement(area.area)},
                               when=LATER, **extra), JSONFormat())
    response = _post(area, message)
    assert response.status_code == 202, response.json
    _applied_involvement(area, response.json["result"]["id"], LATER_IN_LEDGER)


def test_structured_mode(area: AreaClient) -> None:
    message = to_structured(_event("activity.recorded", _activity(area, "SDK-S1")),
                            JSONFormat())
    assert message.headers == {"content-type": "application/cloudevents+json"}
    response = _post(area, message)
    assert response.status_code == 202, response.json
    _applied_activity(area, "SDK-S1", WHEN_IN_LEDGER)
    message = to_structured(_event("involvement.recorded",
                                   {"activity_id": "SDK-S1", **involvement(area.area)},
                                   when=LATER), JSONFormat())
    response = _post(area, message)
    assert response.status_code == 202, response.json
    _applied_involvement(area, response.json["result"]["id"], LATER_IN_LEDGER)


def test_a_batch_of_the_sdks_structured_events(area: AreaClient) -> None:
    events = [_event("activity.recorded", _activity(area, "SDK-BATCH"))] + [
        _event("involvement.recorded",
               {"activity_id": "SDK-BATCH", **involvement(area.area, f"CIT-SDK-{i}")},
               when=LATER) for i in range(3)]
    # The JSON batch format: an array of events, each in the JSON event format.
    body = json.dumps([json.loads(JSONFormat().write(e)) for e in events]).encode()
    response = area.post("/v1/events", data=body, headers={"Content-Type": BATCH})
    assert response.status_code == 202, response.json
    results = response.json["results"]
    assert [r["id"] for r in results] == [e.get_id() for e in events]
    _applied_activity(area, "SDK-BATCH", WHEN_IN_LEDGER)
    for result in results[1:]:
        _applied_involvement(area, result["result"]["id"], LATER_IN_LEDGER)
    # The same batch again is answered as before and changes nothing.
    before = area.contents()
    again = area.post("/v1/events", data=body, headers={"Content-Type": BATCH})
    assert again.status_code == 202 and again.json == response.json
    assert area.contents() == before


def test_the_sdks_default_time_and_id(area: AreaClient) -> None:
    # Without a time the SDK stamps the current time, and a fresh UUID as the id.
    before = datetime.now(UTC)
    event = _event("activity.recorded", _activity(area, "SDK-NOW"), when=None)
    response = _post(area, to_binary(event, JSONFormat()))
    assert response.status_code == 202, response.json
    assert response.json["id"] == event.get_id()
    [recorded] = area.events()
    stamped = datetime.fromisoformat(recorded["time"].replace("Z", "+00:00"))
    assert stamped == event.get_time()
    assert before - timedelta(seconds=1) <= stamped <= datetime.now(UTC)


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_the_sdks_1x_api(area: AreaClient, mode: str) -> None:
    # cloudevents.v1 is the API of the SDK's 1.x releases, which many senders still use;
    # its to_binary sends no Content-Type either.
    event = LegacyCloudEvent({"type": "org.ladder.activity.recorded", "source": SOURCE,
                              "time": WHEN.isoformat()}, _activity(area, f"SDK-V1-{mode}"))
    headers, body = (legacy.to_binary if mode == "binary" else legacy.to_structured)(event)
    if mode == "binary":
        assert "content-type" not in {k.lower() for k in headers}
    response = _post(area, (headers, body))
    assert response.status_code == 202, response.json
    _applied_activity(area, f"SDK-V1-{mode}", WHEN_IN_LEDGER)
