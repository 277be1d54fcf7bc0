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

from tests.integration.conftest import AreaClient, MakeApp, new_id, set_up_area
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
def area(shared_area: AreaClient) -> AreaClient:
    """The area's app and database that the tests here share, on each backend: a test
    writes under ids of its own, and a refusal is shown to write nothing by what the
    database holds before and after it. The integration is made before any test's
    "before"."""
    shared_area.integration()
    return shared_area


@pytest.fixture(scope="module")
def recruitment(module_make_app: MakeApp) -> AreaClient:
    """The recruitment app the property tests share, on each backend (verification and
    parsing are the areas' shared code). Each example compares what the whole database
    holds before and after it, so what earlier examples or tests wrote leaves its
    assertions exact."""
    client = set_up_area("recruitment", module_make_app("recruitment"))
    client.integration()
    return client


@pytest.fixture
def secret(area: AreaClient) -> str:
    """The whsec_ secret of the area's integration."""
    return area.integration()[1]


def sign(secret: str, body: bytes, *, msg_id: str | None = None,
         when: datetime | None = None) -> Delivery:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode("utf-8", "replace"))
    return body, [("webhook-id", msg_id), ("webhook-timestamp", str(int(when.timestamp()))),
                  ("webhook-signature", signature), ("Content-Type", "application/json")]


def command(area: AreaClient, activity_id: str) -> bytes:
    return json.dumps({"type": "activity.recorded",
                       "data": {**ACTIVITIES[area.area], "id": activity_id}}).encode()


def deliver(area: AreaClient, delivery: Delivery) -> Any:
    body, headers = delivery
    return area.http.post(f"/v1/webhooks/{area.integration()[0]}", data=body, headers=headers)


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
    before = area.contents()
    response = deliver(area, forge(secret, command(area, new_id("HR-"))))
    assert response.status_code == 401, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert area.contents() == before


def test_a_replay_gets_the_first_answer_and_changes_nothing(area: AreaClient,
                                                             secret: str) -> None:
    msg_id = new_id("msg_replayed_")
    delivery = sign(secret, command(area, new_id("HR-")), msg_id=msg_id)
    first = deliver(area, delivery)
    assert first.status_code == 202
    before = area.contents()
    # The same delivery again, and the same id with another body, signed by the sender.
    again = deliver(area, delivery)
    other = deliver(area, sign(secret, command(area, new_id("HR-")), msg_id=msg_id))
    assert again.status_code == other.status_code == 202
    assert again.json == other.json == first.json
    assert area.contents() == before


def test_a_body_over_256_kib_is_413_and_changes_nothing(area: AreaClient, secret: str) -> None:
    payload = {"type": "activity.recorded",
               "data": {**ACTIVITIES[area.area], "padding": "x" * (256 * 1024)}}
    before = area.contents()
    response = deliver(area, sign(secret, json.dumps(payload).encode()))
    assert response.status_code == 413
    assert response.json["code"] == 413
    assert area.contents() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", None])
def test_a_body_that_is_not_json_by_its_type_is_415(area: AreaClient, secret: str,
                                                     content_type: str | None) -> None:
    body, headers = sign(secret, command(area, new_id("HR-")))
    headers = _replace(headers, "Content-Type", content_type)
    before = area.contents()
    response = deliver(area, (body, headers))
    assert response.status_code == 415
    assert response.json["code"] == 415
    assert area.contents() == before


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deeply_nested_json_is_400_everywhere_and_changes_nothing(
    area: AreaClient, secret: str, depth: int
) -> None:
    before = area.contents()
    signed = sign(secret, ('{"type": "activity.recorded", "data": ' + _nested(depth)
                           + "}").encode())
    assert deliver(area, signed).status_code == 400
    path = f"/v1/{PATHS[area.area]}"
    for route, content_type in ((path, "application/json"),
                                ("/v1/events", "application/cloudevents-batch+json")):
        response = area.post(route, data=_nested(depth), headers={"Content-Type": content_type})
        assert response.status_code == 400, (route, response.json)
        assert response.json["code"] == 400
    assert area.contents() == before


def test_an_overlong_webhook_id_or_cloudevent_key_is_stored_and_replayed(
    area: AreaClient, secret: str
) -> None:
    # Longer than the receipts' key column; PostgreSQL would refuse it as it stands.
    long_id = new_id("m").ljust(700, "m")
    assert deliver(area, sign(secret, command(area, new_id("HR-")),
                              msg_id=long_id)).status_code == 202
    before = area.contents()
    assert deliver(area, sign(secret, command(area, new_id("HR-")),
                              msg_id=long_id)).status_code == 202
    assert area.contents() == before
    event = {"specversion": "1.0", "id": new_id("i").ljust(512, "i"),
             "source": "/" + new_id("s").ljust(511, "s"),
             "type": "org.ladder.activity.recorded",
             "data": {**ACTIVITIES[area.area], "id": new_id("CE-")}}
    headers = {"Content-Type": "application/cloudevents+json"}
    assert area.post("/v1/events", json=event, headers=headers).status_code == 202
    before = area.contents()
    assert area.post("/v1/events", json=event, headers=headers).status_code == 202
    assert area.contents() == before


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
          suppress_health_check=[HealthCheck.too_slow])
@given(sent=bodies)
def test_any_signed_body_gets_a_documented_answer_and_a_refusal_writes_nothing(
    recruitment: AreaClient, sent: tuple[bytes, int | None]
) -> None:
    area = recruitment
    body, must = sent
    before = area.contents()
    response = deliver(area, sign(area.integration()[1], body))
    assert response.status_code in ALLOWED, (body[:500], response.status_code, response.data)
    if must is not None:
        assert response.status_code == must, (body[:500], must, response.json)
    if response.status_code != 202:
        assert set(response.json) == ERROR_KEYS
        assert area.contents() == before


# Valid commands, each made hostile in one place, drawn and pinned (hostile.PINS). BASE
# stands for the test's own activity: examples are drawn, and pinned, when the module is.
BASE = "HR-BASE"
HOSTILE_TEMPLATES = (
    {"type": "activity.recorded",
     "data": {**ACTIVITIES["recruitment"], "occurred_at": "2026-02-03T09:30:00+01:00"}},
    {"type": "involvement.recorded",
     "data": {"activity_id": BASE, **involvement("recruitment"),
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
def base_activity(recruitment: AreaClient) -> str:
    """The activity the hostile involvements are recorded in, of the test's own (one for all
    its examples, as BASE is)."""
    activity_id = new_id("HR-")
    response = recruitment.post(f"/v1/{PATHS[recruitment.area]}",
                                json={**ACTIVITIES[recruitment.area], "id": activity_id})
    assert response.status_code == 202, response.json
    return activity_id


@settings(max_examples=EXAMPLES * 3, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@_pinned
@given(variant=hostile_commands)
def test_a_hostile_command_gets_the_status_its_kind_demands_and_a_refusal_writes_nothing(
    recruitment: AreaClient, base_activity: str, variant: Variant
) -> None:
    area = recruitment
    # Only BASE where it stands whole: a variant that made it hostile sends it as it made it.
    # The body's size is what decides a 413, so the status is reckoned on the body sent.
    body = variant.encode().replace(json.dumps(BASE).encode(), json.dumps(base_activity).encode())
    must = expected(body, variant.status)
    before = area.contents()
    response = deliver(area, sign(area.integration()[1], body))
    shown = (str(variant), body[:300], response.status_code, response.data[:300])
    assert response.status_code in ALLOWED, shown
    if response.status_code == 202:
        assert must is None, shown
        assert area.contents()["outbox"][0] == before["outbox"][0] + 1, shown
        return
    assert set(response.json) == ERROR_KEYS, shown
    assert must is None or response.status_code == must, shown
    assert area.contents() == before, shown


header_values = st.text(max_size=80) | st.sampled_from(["", "v1,", "v1,AAAA", "0", "-1",
                                                       "99999999999999999999", "msg_x"])


@settings(max_examples=EXAMPLES * 3, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(["webhook-id", "webhook-timestamp",
                                                "webhook-signature"]),
                               header_values.filter(lambda v: "\n" not in v and "\r" not in v),
                               min_size=1))
def test_tampered_headers_are_401_and_write_nothing(
    recruitment: AreaClient, changes: dict[str, str]
) -> None:
    area = recruitment
    body, headers = sign(area.integration()[1], command(area, new_id("HR-")))
    for name, value in changes.items():
        headers = _replace(headers, name, value)
    before = area.contents()
    response = deliver(area, (body, headers))
    assert response.status_code == 401, (changes, response.json)
    assert area.contents() == before


def test_unsigned_junk_at_an_unknown_integration_is_401(area: AreaClient) -> None:
    before = area.contents()
    response = area.http.post("/v1/webhooks/" + "n" * 300, data=b"{}",
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert area.contents() == before


def test_involvement_before_its_activity_is_refused_and_can_be_sent_later(
    area: AreaClient, secret: str
) -> None:
    activity_id = new_id("HR-")
    body = json.dumps({"type": "involvement.recorded",
                       "data": {"activity_id": activity_id, **involvement(area.area)}}).encode()
    delivery = sign(secret, body)
    before = area.contents()
    assert deliver(area, delivery).status_code == 404
    assert area.contents() == before
    assert deliver(area, sign(secret, command(area, activity_id))).status_code == 202
    assert deliver(area, delivery).status_code == 202
