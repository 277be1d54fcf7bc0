"""Input no column can store, or that only looks valid, is refused by every intake with a 4xx
naming the field, and writes nothing: REST, signed webhooks, CloudEvents in all three modes,
and erasure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.integration.conftest import AreaClient, new_id
from tests.support.areas import ACTIVITIES, DATES, PATHS, involvement

SURROGATE = "R\ud800"


@pytest.fixture
def area(shared_area: AreaClient) -> AreaClient:
    """The area's app and database that every test here shares, on each backend: a test
    writes under ids of its own, and a refusal is shown to write nothing by what the
    database holds before and after it. The webhook intake's integration is made before
    any test's "before"."""
    shared_area.integration()
    return shared_area


def _shape(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.json)
    body: dict[str, Any] = response.json
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    return body


def _raw(value: Any) -> bytes:
    """JSON text as Python writes it: a lone surrogate becomes its ``\\ud800`` escape."""
    return json.dumps(value).encode()


# One intake: (area, raw body of an activity.recorded) -> the response.
Intake = Callable[[AreaClient, bytes], Any]


def _rest(area: AreaClient, activity: bytes) -> Any:
    return area.post(f"/v1/{PATHS[area.area]}", data=activity,
                     headers={"Content-Type": "application/json"})


def _webhook(area: AreaClient, activity: bytes) -> Any:
    name, secret = area.integration()
    body = b'{"type": "activity.recorded", "data": ' + activity + b"}"
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    return area.http.post(f"/v1/webhooks/{name}", data=body, headers={
        "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature, "Content-Type": "application/json"})


def _envelope(activity: bytes, event_id: str = "") -> bytes:
    return (b'{"specversion": "1.0", "id": "' + (event_id or uuid.uuid4().hex).encode()
            + b'", "source": "/hr", "type": "org.ladder.activity.recorded", "data": '
            + activity + b"}")


def _structured(area: AreaClient, activity: bytes) -> Any:
    return area.post("/v1/events", data=_envelope(activity),
                     headers={"Content-Type": "application/cloudevents+json"})


def _batch(area: AreaClient, activity: bytes) -> Any:
    good = _raw({**ACTIVITIES[area.area], "id": new_id("GOOD-")})
    return area.post("/v1/events", data=b"[" + _envelope(good) + b", " + _envelope(activity)
                     + b"]", headers={"Content-Type": "application/cloudevents-batch+json"})


def _binary(area: AreaClient, activity: bytes) -> Any:
    return area.post("/v1/events", data=activity, headers={
        "Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": uuid.uuid4().hex,
        "ce-source": "/hr", "ce-type": "org.ladder.activity.recorded"})


INTAKES = {"rest": _rest, "webhook": _webhook, "structured": _structured, "batch": _batch,
           "binary": _binary}
# Where each intake names a field of the activity.
PREFIX = {"rest": "", "webhook": "data.", "structured": "data.", "batch": "1.data.",
          "binary": ""}


def _field_errors(body: dict[str, Any]) -> str:
    return json.dumps(body["errors"])


@pytest.mark.parametrize("intake", INTAKES)
def test_a_lone_surrogate_in_any_text_field_is_422_naming_it(area: AreaClient,
                                                             intake: str) -> None:
    texts = [k for k, v in ACTIVITIES[area.area].items() if isinstance(v, str)]
    for name in texts:
        before = area.contents()
        activity = {**ACTIVITIES[area.area], name: SURROGATE}
        body = _shape(INTAKES[intake](area, _raw(activity)), 422)
        assert PREFIX[intake] + name in body["errors"]["json"], body
        assert "surrogate" in _field_errors(body)
        assert area.contents() == before


@pytest.mark.parametrize("intake", INTAKES)
def test_a_lone_surrogate_in_a_key_is_422(area: AreaClient, intake: str) -> None:
    before = area.contents()
    activity = {**ACTIVITIES[area.area], "\udc80": 1}
    body = _shape(INTAKES[intake](area, _raw(activity)), 422)
    assert "surrogate" in _field_errors(body)
    assert area.contents() == before


@pytest.mark.parametrize("intake", INTAKES)
def test_a_duplicate_key_is_400(area: AreaClient, intake: str) -> None:
    before = area.contents()
    activity = _raw(ACTIVITIES[area.area])[:-1] + b', "org_unit": "elsewhere"}'
    body = _shape(INTAKES[intake](area, activity), 400)
    assert "org_unit" in body["message"]
    assert area.contents() == before


@pytest.mark.parametrize("literal", [b"9" * 5001, b"1" + b"0" * 25, b"1e999", b"-1e400"])
def test_a_number_no_field_can_hold_is_422_naming_it(area: AreaClient, literal: bytes) -> None:
    activity_id = area.activity()
    before = area.contents()
    text = _raw(involvement(area.area)).replace(b'"hours": 3.5', b'"hours": ' + literal)
    response = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements", data=text,
                         headers={"Content-Type": "application/json"})
    body = _shape(response, 422)
    assert body["errors"]["json"] == {"hours": ["Number out of range."]}
    assert area.contents() == before


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(area: AreaClient, literal: bytes) -> None:
    text = _raw(involvement(area.area)).replace(b'"hours": 3.5', b'"hours": ' + literal)
    response = area.post(f"/v1/{PATHS[area.area]}/X/involvements", data=text,
                         headers={"Content-Type": "application/json"})
    _shape(response, 400)


@pytest.mark.parametrize(("name", "value"), [
    ("hours", "3"), ("hours", True), ("from_start", "yes"), ("from_start", 1),
    ("feedback_given", "true"), ("feedback_given", 0), ("hours", [3]),
])
def test_a_value_that_only_parses_as_the_right_type_is_422(area: AreaClient, name: str,
                                                           value: Any) -> None:
    activity_id = area.activity()
    before = area.contents()
    response = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements",
                         json=involvement(area.area, **{name: value}))
    body = _shape(response, 422)
    assert list(body["errors"]["json"]) == [name]
    assert area.contents() == before


@pytest.mark.parametrize("value", [1.5, 2.589e-42, "3", True, 3.0])
def test_an_integer_is_an_integer(area: AreaClient, value: Any) -> None:
    if area.area == "training":
        response = area.post("/v1/sessions", json={**ACTIVITIES["training"], "learners": value})
        assert list(_shape(response, 422)["errors"]["json"]) == ["learners"]
    elif area.area == "inspection":
        activity_id = area.activity()
        response = area.post(f"/v1/inspections/{activity_id}/involvements",
                             json=involvement("inspection", interviews_count=value))
        assert list(_shape(response, 422)["errors"]["json"]) == ["interviews_count"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                                    "1999-12-31T23:59:59Z"])
def test_occurred_at_before_the_earliest_date_is_422(area: AreaClient, moment: str) -> None:
    before = area.contents()
    response = area.post(f"/v1/{PATHS[area.area]}",
                         json={**ACTIVITIES[area.area], "occurred_at": moment})
    body = _shape(response, 422)
    assert body["errors"]["json"] == {"occurred_at": ["Must not be before "
                                                      "2000-01-01T00:00:00.000000Z."]}
    assert area.contents() == before


def test_a_date_before_the_earliest_is_422(area: AreaClient) -> None:
    name = DATES[area.area]
    response = area.post(f"/v1/{PATHS[area.area]}",
                         json={**ACTIVITIES[area.area], name: "1969-07-20"})
    assert list(_shape(response, 422)["errors"]["json"]) == [name]
    assert area.post(f"/v1/{PATHS[area.area]}",
                     json={**ACTIVITIES[area.area], name: "2000-01-01"}).status_code == 202


def test_erasure_refuses_a_reference_it_could_not_store(area: AreaClient) -> None:
    for reference in (SURROGATE, "CIT-\u00001"):
        response = area.post("/v1/citizens/erasure", verb="admin",
                             data=_raw({"citizen_ref": reference}),
                             headers={"Content-Type": "application/json"})
        assert list(_shape(response, 422)["errors"]["json"]) == ["citizen_ref"]


def test_a_citizen_reference_with_a_lone_surrogate_is_422(area: AreaClient) -> None:
    activity_id = area.activity()
    before = area.contents()
    response = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements",
                         data=_raw(involvement(area.area, SURROGATE)),
                         headers={"Content-Type": "application/json"})
    assert list(_shape(response, 422)["errors"]["json"]) == ["citizen_ref"]
    assert area.contents() == before


def _binary_headers(**extra: str) -> dict[str, str]:
    return {"ce-specversion": "1.0", "ce-id": uuid.uuid4().hex, "ce-source": "/lms",
            "ce-type": "org.ladder.activity.recorded", **extra}


def test_binary_mode_without_a_content_type_is_read_as_json(area: AreaClient) -> None:
    activity_id = new_id("BIN-")
    body = _raw({**ACTIVITIES[area.area], "id": activity_id})
    response = area.http.post("/v1/events", data=body,
                              headers={**area.headers(), **_binary_headers()})
    assert response.status_code == 202, response.json
    assert area.get(f"/v1/{PATHS[area.area]}/{activity_id}").status_code == 200


def test_binary_mode_headers_are_percent_decoded_and_checked(area: AreaClient) -> None:
    activity_id = new_id("BIN-")
    body = _raw({**ACTIVITIES[area.area], "id": activity_id})
    seen = len(area.events())
    response = area.post("/v1/events", data=body, headers={
        "Content-Type": "application/json", **_binary_headers(**{"ce-source": "/lms/caf%C3%A9"})})
    assert response.status_code == 202, response.json
    [event] = area.events()[seen:]
    assert event["data"]["activity_id"] == activity_id
    for value in ("/lms/%00", "/lms/%ED%A0%80", "/lms/%FF"):
        before = area.contents()
        response = area.post("/v1/events", data=body, headers={
            "Content-Type": "application/json", **_binary_headers(**{"ce-source": value})})
        assert "ce-source" in _shape(response, 422)["errors"]["headers"]
        assert area.contents() == before


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_the_cloudevents_time_dates_the_event(area: AreaClient) -> None:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    event = {"specversion": "1.0", "id": new_id("t-"), "source": "/hr", "time": _at(when),
             "type": "org.ladder.activity.recorded",
             "data": {**ACTIVITIES[area.area], "id": new_id("T-")}}
    seen = len(area.events())
    response = area.post("/v1/events", json=event,
                         headers={"Content-Type": "application/cloudevents+json"})
    assert response.status_code == 202, response.json
    [recorded] = area.events()[seen:]
    assert recorded["time"] == _at(when).replace("Z", ".000000Z")


@pytest.mark.parametrize("shift", [timedelta(days=2), None])
def test_a_cloudevents_time_is_held_to_the_rules_of_occurred_at(
        area: AreaClient, shift: timedelta | None) -> None:
    when = datetime.now(UTC) + shift if shift else datetime(1969, 7, 20, tzinfo=UTC)
    event = {"specversion": "1.0", "id": new_id("t-"), "source": "/hr", "time": _at(when),
             "type": "org.ladder.activity.recorded",
             "data": {**ACTIVITIES[area.area], "id": new_id("T-")}}
    before = area.contents()
    response = area.post("/v1/events", json=[event],
                         headers={"Content-Type": "application/cloudevents-batch+json"})
    assert list(_shape(response, 422)["errors"]["0"]) == ["time"]
    assert area.contents() == before


def test_a_cloudevents_time_that_disagrees_with_occurred_at_is_422(area: AreaClient) -> None:
    when = datetime.now(UTC) - timedelta(days=3)
    event = {"specversion": "1.0", "id": new_id("t-"), "source": "/hr", "time": _at(when),
             "type": "org.ladder.activity.recorded",
             "data": {**ACTIVITIES[area.area], "id": new_id("T-"),
                      "occurred_at": _at(when - timedelta(hours=1))}}
    response = area.post("/v1/events", json=event,
                         headers={"Content-Type": "application/cloudevents+json"})
    assert list(_shape(response, 422)["errors"]) == ["time"]
    event["data"]["occurred_at"] = _at(when)
    response = area.post("/v1/events", json=event,
                         headers={"Content-Type": "application/cloudevents+json"})
    assert response.status_code == 202, response.json


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_cloudevents_time_beyond_the_calendar_in_utc_is_422(area: AreaClient,
                                                              moment: str) -> None:
    event = {"specversion": "1.0", "id": new_id("t-"), "source": "/hr", "time": moment,
             "type": "org.ladder.activity.recorded", "data": ACTIVITIES[area.area]}
    response = area.post("/v1/events", json=event,
                         headers={"Content-Type": "application/cloudevents+json"})
    assert list(_shape(response, 422)["errors"]) == ["time"]


def test_a_cloudevents_extension_integer_is_32_bit(area: AreaClient) -> None:
    event = {"specversion": "1.0", "id": new_id("t-"), "source": "/hr", "ext": 2**31,
             "type": "org.ladder.activity.recorded", "data": ACTIVITIES[area.area]}
    response = area.post("/v1/events", json=event,
                         headers={"Content-Type": "application/cloudevents+json"})
    assert list(_shape(response, 422)["errors"]) == ["ext"]
    event["ext"] = 2**31 - 1
    assert area.post("/v1/events", json=event, headers={
        "Content-Type": "application/cloudevents+json"}).status_code == 202


@pytest.mark.parametrize("value", ["2026-1-1", "2026-01-1", "26-01-01", "2026-01-01T00:00",
                                   "\u0662\u0660\u0662\u0666-01-01"])
def test_a_date_is_yyyy_mm_dd(area: AreaClient, value: str) -> None:
    name = DATES[area.area]
    response = area.post(f"/v1/{PATHS[area.area]}", json={**ACTIVITIES[area.area], name: value})
    assert list(_shape(response, 422)["errors"]["json"]) == [name]


@pytest.mark.parametrize("path", ["%2F{id}", "{id}%2F", "%2F%2F{id}"])
def test_an_id_with_a_slash_at_either_end_names_nothing(area: AreaClient, path: str) -> None:
    path = path.format(id=area.activity())
    before = area.contents()
    for response in (area.post(f"/v1/{PATHS[area.area]}/{path}/cancellation"),
                     area.get(f"/v1/{PATHS[area.area]}/{path}"),
                     area.patch(f"/v1/{PATHS[area.area]}/{path}", json={"org_unit": "x"})):
        _shape(response, 404)
    assert area.contents() == before
