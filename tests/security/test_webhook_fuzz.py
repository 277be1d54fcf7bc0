"""Hostile webhook deliveries: each gets its documented status and changes nothing.

Missing or duplicated headers, replays, bodies over 256 KiB, the wrong content
type, deeply nested JSON, overlong ids; then random bodies and headers, and valid
commands made hostile in one place. The forgeries of test_webhooks_in.py (wrong
secret, old or future timestamp, altered body, invalid UTF-8) complete the list.

The random bodies hold what breaks parsers and databases (tests/support/hostile.py):
lone surrogates, non-characters, NUL and other controls, huge and tiny numbers,
5,001-digit number literals, NaN, a key twice, deep nesting, very long text; each
must get the status docs/api.md gives it wherever it is (400 or 422), and a
refusal writes nothing.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from shared.area.integrations import create_integration
from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, PATHS, involvement
from tests.support.hostile import (
    NESTING,
    PINS,
    Pairs,
    Variant,
    demands,
    encode,
    expected,
    numbers,
    texts,
    times,
    variants,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 12))
Delivery = tuple[bytes, list[tuple[str, str]]]


@pytest.fixture
def secret(area: AreaClient) -> str:
    """The whsec_ secret of an integration called hr-system."""
    return create_integration(area.app.extensions["db"], "hr-system")


def sign(secret: str, body: bytes, *, msg_id: str | None = None,
         when: datetime | None = None) -> Delivery:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode("utf-8", "replace"))
    return body, [("webhook-id", msg_id), ("webhook-timestamp", str(int(when.timestamp()))),
                  ("webhook-signature", signature), ("Content-Type", "application/json")]


def command(area: AreaClient, activity_id: str = "HR-1") -> bytes:
    return json.dumps({"type": "activity.recorded",
                       "data": {**ACTIVITIES[area.area], "id": activity_id}}).encode()


def deliver(area: AreaClient, delivery: Delivery, integration: str = "hr-system") -> Any:
    body, headers = delivery
    return area.http.post(f"/v1/webhooks/{integration}", data=body, headers=headers)


def _replace(headers: list[tuple[str, str]], name: str, value: str | None) -> list[
        tuple[str, str]]:
    kept = [(k, v) for k, v in headers if k != name]
    return kept + ([(name, value)] if value is not None else [])


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next(v for k, v in headers if k == name)


def missing(name: str) -> Callable[[str, bytes], Delivery]:
    def forge(secret: str, body: bytes) -> Delivery:
        signed, headers = sign(secret, body)
        return signed, _replace(headers, name, None)

    forge.__name__ = f"missing_{name}"
    return forge


def duplicated(name: str, other: str) -> Callable[[str, bytes], Delivery]:
    """The header twice, the second with another value (a proxy joins them with a comma)."""

    def forge(secret: str, body: bytes) -> Delivery:
        signed, headers = sign(secret, body)
        return signed, _replace(headers, name, f"{_header(headers, name)}, {other}")

    forge.__name__ = f"duplicated_{name}"
    return forge


def timestamp_not_a_number(secret: str, body: bytes) -> Delivery:
    signed, headers = sign(secret, body)
    return signed, _replace(headers, "webhook-timestamp", "yesterday")


# A wrong secret, an old or future timestamp, an altered body, a missing or garbled
# signature and invalid UTF-8 are in tests/integration/test_webhooks_in.py.
@pytest.mark.parametrize("forge", [
    missing("webhook-id"), missing("webhook-timestamp"),
    duplicated("webhook-id", "msg_other"), duplicated("webhook-timestamp", "1"),
    duplicated("webhook-signature", "v1,AAAA"), timestamp_not_a_number,
], ids=lambda f: f.__name__)
def test_a_forged_delivery_is_401_and_changes_nothing(
    area: AreaClient, secret: str, forge: Callable[[str, bytes], Delivery]
) -> None:
    before = area.writes()
    response = deliver(area, forge(secret, command(area)))
    assert response.status_code == 401, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert area.writes() == before


def test_a_replay_gets_the_first_answer_and_changes_nothing(area: AreaClient,
                                                             secret: str) -> None:
    delivery = sign(secret, command(area), msg_id="msg_replayed")
    first = deliver(area, delivery)
    assert first.status_code == 202
    before = area.writes()
    # The same delivery again, and the same id with another body, signed by the sender.
    again = deliver(area, delivery)
    other = deliver(area, sign(secret, command(area, "HR-9"), msg_id="msg_replayed"))
    assert again.status_code == other.status_code == 202
    assert again.json == other.json == first.json
    assert area.writes() == before


def test_a_body_over_256_kib_is_413_and_changes_nothing(area: AreaClient, secret: str) -> None:
    payload = {"type": "activity.recorded",
               "data": {**ACTIVITIES[area.area], "padding": "x" * (256 * 1024)}}
    before = area.writes()
    response = deliver(area, sign(secret, json.dumps(payload).encode()))
    assert response.status_code == 413
    assert response.json["code"] == 413
    assert area.writes() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", None])
def test_a_body_that_is_not_json_by_its_type_is_415(area: AreaClient, secret: str,
                                                     content_type: str | None) -> None:
    body, headers = sign(secret, command(area))
    headers = _replace(headers, "Content-Type", content_type)
    before = area.writes()
    response = deliver(area, (body, headers))
    assert response.status_code == 415
    assert response.json["code"] == 415
    assert area.writes() == before


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deeply_nested_json_is_400_everywhere_and_changes_nothing(
    area: AreaClient, secret: str, depth: int
) -> None:
    before = area.writes()
    signed = sign(secret, ('{"type": "activity.recorded", "data": ' + _nested(depth)
                           + "}").encode())
    assert deliver(area, signed).status_code == 400
    path = f"/v1/{PATHS[area.area]}"
    for route, content_type in ((path, "application/json"),
                                ("/v1/events", "application/cloudevents-batch+json")):
        response = area.post(route, data=_nested(depth), headers={"Content-Type": content_type})
        assert response.status_code == 400, (route, response.json)
        assert response.json["code"] == 400
    assert area.writes() == before


def test_an_overlong_webhook_id_or_cloudevent_key_is_stored_and_replayed(
    area: AreaClient, secret: str
) -> None:
    # Longer than the receipts' key column; PostgreSQL would refuse it as it stands.
    long_id = "m" * 700
    assert deliver(area, sign(secret, command(area, "HR-L"), msg_id=long_id)).status_code == 202
    before = area.writes()
    assert deliver(area, sign(secret, command(area, "HR-M"), msg_id=long_id)).status_code == 202
    assert area.writes() == before
    event = {"specversion": "1.0", "id": "i" * 512, "source": "/" + "s" * 511,
             "type": "org.ladder.activity.recorded",
             "data": {**ACTIVITIES[area.area], "id": "CE-L"}}
    headers = {"Content-Type": "application/cloudevents+json"}
    assert area.post("/v1/events", json=event, headers=headers).status_code == 202
    before = area.writes()
    assert area.post("/v1/events", json=event, headers=headers).status_code == 202
    assert area.writes() == before


ALLOWED = {202, 400, 401, 404, 409, 413, 415, 422}
ERROR_KEYS = {"code", "status", "message", "errors"}


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


# Leaves and keys no intake may trust: see tests/support/hostile.py.
hostile_leaves = st.one_of(
    texts().map(_first), numbers().map(_first), NESTING.map(_first), times().map(_first))
keys = st.text(max_size=8) | texts().map(_first)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    pairs = st.lists(st.tuples(keys, children), min_size=1, max_size=4)
    return st.one_of(st.lists(children, max_size=4),
                     st.dictionaries(keys, children, max_size=4),
                     pairs.map(lambda p: Pairs([*p, p[0]])))  # a key twice


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | hostile_leaves, _containers, max_leaves=12)
commands = st.fixed_dictionaries({
    "type": st.sampled_from(["activity.recorded", "activity.updated", "activity.cancelled",
                             "involvement.recorded", "involvement.corrected",
                             "involvement.withdrawn"]) | st.text(max_size=20),
    "data": json_values,
})


def _json_body(value: Any) -> tuple[bytes, int | None]:
    """The body as JSON text, and the status what is in it demands (None: any allowed)."""
    body = encode(value)
    return body, expected(body, demands(value))


bodies = (st.binary(max_size=300).map(lambda b: (b, None))
          | json_values.map(_json_body) | commands.map(_json_body))


@settings(max_examples=EXAMPLES * 3, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.parametrize("area", ["recruitment"], indirect=True)  # verification is shared
@given(sent=bodies)
def test_any_signed_body_gets_a_documented_answer_and_a_refusal_writes_nothing(
    area: AreaClient, secret: str, sent: tuple[bytes, int | None]
) -> None:
    body, must = sent
    before = area.writes()
    response = deliver(area, sign(secret, body))
    assert response.status_code in ALLOWED, (body[:500], response.status_code, response.data)
    if must is not None:
        assert response.status_code == must, (body[:500], must, response.json)
    if response.status_code != 202:
        assert set(response.json) == ERROR_KEYS
        assert area.writes() == before


# Valid commands, each made hostile in one place, drawn and pinned (hostile.PINS).
HOSTILE_TEMPLATES = (
    {"type": "activity.recorded",
     "data": {**ACTIVITIES["recruitment"], "occurred_at": "2026-02-03T09:30:00+01:00"}},
    {"type": "involvement.recorded",
     "data": {"activity_id": "HR-BASE", **involvement("recruitment"),
              "occurred_at": "2026-02-04T10:00:00Z"}},
)
HOSTILE_CONTAINERS = [(), ("data",)]
hostile_commands = st.sampled_from(HOSTILE_TEMPLATES).flatmap(
    lambda template: variants(template, HOSTILE_CONTAINERS))


def _pinned(test: Any) -> Any:
    for template in HOSTILE_TEMPLATES:
        for pin in PINS:
            variant = pin.apply(template, HOSTILE_CONTAINERS)
            if variant is not None:
                test = example(variant=variant)(test)
    return test


@pytest.fixture
def base_activity(area: AreaClient) -> str:
    """The activity the hostile involvements are recorded in."""
    response = area.post(f"/v1/{PATHS[area.area]}", json={**ACTIVITIES[area.area],
                                                          "id": "HR-BASE"})
    assert response.status_code == 202, response.json
    return "HR-BASE"


@settings(max_examples=EXAMPLES * 3, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.parametrize("area", ["recruitment"], indirect=True)  # the parsing is shared
@_pinned
@given(variant=hostile_commands)
def test_a_hostile_command_gets_the_status_its_kind_demands_and_a_refusal_writes_nothing(
    area: AreaClient, secret: str, base_activity: str, variant: Variant
) -> None:
    before = area.writes()
    response = deliver(area, sign(secret, variant.encode()))
    must = variant.expected()
    shown = (str(variant), variant.encode()[:300], response.status_code, response.data[:300])
    assert response.status_code in ALLOWED, shown
    if response.status_code == 202:
        assert must is None, shown
        assert area.writes()["outbox"] == before["outbox"] + 1, shown
        return
    assert set(response.json) == ERROR_KEYS, shown
    assert must is None or response.status_code == must, shown
    assert area.writes() == before, shown


header_values = st.text(max_size=80) | st.sampled_from(["", "v1,", "v1,AAAA", "0", "-1",
                                                       "99999999999999999999", "msg_x"])


@settings(max_examples=EXAMPLES * 3, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.parametrize("area", ["recruitment"], indirect=True)  # verification is shared
@given(changes=st.dictionaries(st.sampled_from(["webhook-id", "webhook-timestamp",
                                                "webhook-signature"]),
                               header_values.filter(lambda v: "\n" not in v and "\r" not in v),
                               min_size=1))
def test_tampered_headers_are_401_and_write_nothing(
    area: AreaClient, secret: str, changes: dict[str, str]
) -> None:
    body, headers = sign(secret, command(area, f"HR-{uuid.uuid4().hex[:8]}"))
    for name, value in changes.items():
        headers = _replace(headers, name, value)
    before = area.writes()
    response = deliver(area, (body, headers))
    assert response.status_code == 401, (changes, response.json)
    assert area.writes() == before


def test_unsigned_junk_at_an_unknown_integration_is_401(area: AreaClient) -> None:
    before = area.writes()
    response = area.http.post("/v1/webhooks/" + "n" * 300, data=b"{}",
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert area.writes() == before


def test_involvement_before_its_activity_is_refused_and_can_be_sent_later(
    area: AreaClient, secret: str
) -> None:
    body = json.dumps({"type": "involvement.recorded",
                       "data": {"activity_id": "HR-1", **involvement(area.area)}}).encode()
    delivery = sign(secret, body)
    before = area.writes()
    assert deliver(area, delivery).status_code == 404
    assert area.writes() == before
    assert deliver(area, sign(secret, command(area))).status_code == 202
    assert deliver(area, delivery).status_code == 202
