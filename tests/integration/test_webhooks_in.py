"""Signed webhooks into every area, verified with the standardwebhooks library."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from standardwebhooks import Webhook

from shared.area.integrations import create_integration, rotate_integration
from shared.logs import REQUEST_ID_HEADER
from tests.integration.conftest import AreaClient, new_id
from tests.support.areas import ACTIVITIES, involvement


@pytest.fixture
def area(shared_area: AreaClient) -> AreaClient:
    """The area's app and database that the tests here share, on each backend: a test
    sends to an integration of its own, under ids of its own, reads the events it added
    after those it found, and shows a refusal wrote nothing by what the database holds
    before and after it."""
    return shared_area


@pytest.fixture
def integration() -> str:
    """The test's integration's name: rotating its secret changes no other test's."""
    return new_id("hr-")


@pytest.fixture
def secret(area: AreaClient, integration: str) -> str:
    """The whsec_ secret of the test's integration."""
    return create_integration(area.app.extensions["db"], integration)


Signed = tuple[bytes, dict[str, str]]


def _signed(secret: str, payload: Any, *, msg_id: str | None = None,
            when: datetime | None = None, body: bytes | None = None) -> Signed:
    data = body if body is not None else json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, data.decode("utf-8", "replace"))
    return data, {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                  "webhook-signature": signature, "Content-Type": "application/json"}


def _deliver(area: AreaClient, integration: str, data: bytes, headers: dict[str, str]) -> Any:
    return area.http.post(f"/v1/webhooks/{integration}", data=data, headers=headers)


def _activity_command(area: AreaClient, activity_id: str) -> dict[str, Any]:
    return {"type": "activity.recorded", "data": {**ACTIVITIES[area.area], "id": activity_id}}


def test_a_signed_webhook_records_activity_and_involvement(area: AreaClient, integration: str,
                                                           secret: str) -> None:
    activity_id = new_id("HR-")
    seen = len(area.events())
    assert _deliver(area, integration,
                    *_signed(secret, _activity_command(area, activity_id))).status_code == 202
    command = {"type": "involvement.recorded",
               "data": {"activity_id": activity_id, **involvement(area.area)}}
    response = _deliver(area, integration, *_signed(secret, command))
    assert response.status_code == 202, response.json
    assert response.json["type"] == "involvement.recorded"
    assert response.json["result"]["step"] == 7
    assert [e["type"] for e in area.events()[seen:]] == ["org.ladder.activity.recorded",
                                                         "org.ladder.involvement.recorded"]


def test_a_replayed_webhook_is_applied_once(area: AreaClient, integration: str,
                                            secret: str) -> None:
    activity_id = new_id("HR-")
    seen = len(area.events())
    _deliver(area, integration, *_signed(secret, _activity_command(area, activity_id)))
    command = {"type": "involvement.recorded",
               "data": {"activity_id": activity_id, **involvement(area.area)}}
    data, headers = _signed(secret, command, msg_id=new_id("msg_replay_"))
    first = _deliver(area, integration, data, headers)
    writes = area.contents()
    again = _deliver(area, integration, data, headers)
    assert first.status_code == again.status_code == 202
    assert again.json == first.json
    assert area.contents() == writes
    assert len(area.events()[seen:]) == 2


def test_a_refused_webhook_can_be_delivered_again_once_fixed(
    area: AreaClient, integration: str, secret: str
) -> None:
    activity_id = new_id("HR-")
    command = {"type": "involvement.recorded",
               "data": {"activity_id": activity_id, **involvement(area.area)}}
    data, headers = _signed(secret, command, msg_id=new_id("msg_early_"))
    assert _deliver(area, integration, data, headers).status_code == 404
    _deliver(area, integration, *_signed(secret, _activity_command(area, activity_id)))
    assert _deliver(area, integration, data, headers).status_code == 202


def _tampered(secret: str, payload: Any) -> Signed:
    data, headers = _signed(secret, payload)
    return data.replace(b"HR-", b"HX-"), headers


def _wrong_secret(secret: str, payload: Any) -> Signed:
    return _signed(create_other_secret(), payload)


def create_other_secret() -> str:
    from shared.webhooks import new_secret

    return new_secret()


def _old(secret: str, payload: Any) -> Signed:
    return _signed(secret, payload, when=datetime.now(UTC) - timedelta(minutes=6))


def _future(secret: str, payload: Any) -> Signed:
    return _signed(secret, payload, when=datetime.now(UTC) + timedelta(minutes=6))


def _no_signature(secret: str, payload: Any) -> Signed:
    data, headers = _signed(secret, payload)
    del headers["webhook-signature"]
    return data, headers


def _garbled_signature(secret: str, payload: Any) -> Signed:
    data, headers = _signed(secret, payload)
    headers["webhook-signature"] = "v1,@@@ nonsense"
    return data, headers


def _not_utf8(secret: str, payload: Any) -> Signed:
    data, headers = _signed(secret, payload)
    return b"\xff\xfe" + data, headers


@pytest.mark.parametrize("forge", [_tampered, _wrong_secret, _old, _future, _no_signature,
                                   _garbled_signature, _not_utf8])
def test_bad_signatures_are_401_and_change_nothing(
    area: AreaClient, integration: str, secret: str, forge: Any
) -> None:
    before = area.contents()
    response = _deliver(area, integration, *forge(secret, _activity_command(area, new_id("HR-"))))
    assert response.status_code == 401
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert area.contents() == before


def test_an_unknown_integration_is_401(area: AreaClient, integration: str, secret: str) -> None:
    """Answered exactly as a bad signature is: nothing tells a prober the name is unknown."""
    before = area.contents()
    command = _activity_command(area, new_id("HR-"))
    unknown = _deliver(area, new_id("nobody-"), *_signed(secret, command))
    bad = _deliver(area, integration, *_wrong_secret(secret, command))
    assert unknown.status_code == bad.status_code == 401
    assert unknown.get_data() == bad.get_data()
    assert _answer_headers(unknown) == _answer_headers(bad)
    # The moment the limit resets is a clock reading, as Date is: the two requests may
    # straddle a second, and no more.
    resets = [int(r.headers["X-RateLimit-Reset"]) for r in (unknown, bad)]
    assert 0 <= resets[1] - resets[0] <= 1, resets
    assert area.contents() == before


def _answer_headers(response: Any) -> dict[str, str]:
    """A response's headers, but those that name the request (its id) or the moment."""
    return {k: v for k, v in response.headers.items()
            if k.lower() not in (REQUEST_ID_HEADER.lower(), "date", "x-ratelimit-reset")}


def test_both_secrets_are_valid_during_rotation(area: AreaClient, integration: str,
                                                 secret: str) -> None:
    def deliver(signing: str) -> int:
        command = _activity_command(area, new_id("HR-"))
        return int(_deliver(area, integration, *_signed(signing, command)).status_code)

    new = rotate_integration(area.app.extensions["db"], integration)
    assert deliver(secret) == 202
    assert deliver(new) == 202
    newer = rotate_integration(area.app.extensions["db"], integration)
    assert deliver(secret) == 401
    assert deliver(newer) == 202


@pytest.mark.parametrize(
    ("payload", "status", "named"),
    [
        (None, 400, None),
        ({"type": "vacancy.exploded", "data": {}}, 422, "type"),
        ({"type": "activity.recorded", "data": {"org_unit": ""}}, 422, "org_unit"),
        ({"type": "involvement.recorded", "data": {"citizen_ref": "x"}}, 422, "activity_id"),
        (["not", "an", "object"], 422, "type"),
    ],
)
def test_signed_but_invalid_payloads_are_refused_and_change_nothing(
    area: AreaClient, integration: str, secret: str, payload: Any, status: int,
    named: str | None
) -> None:
    before = area.contents()
    body = b"{not json" if payload is None else None
    response = _deliver(area, integration, *_signed(secret, payload, body=body))
    assert response.status_code == status
    if named:
        assert named in json.dumps(response.json["errors"]) or named in response.json["message"]
    assert area.contents() == before


def test_a_webhook_with_the_wrong_content_type_is_415(area: AreaClient, integration: str,
                                                      secret: str) -> None:
    data, headers = _signed(secret, _activity_command(area, new_id("HR-")))
    headers["Content-Type"] = "text/plain"
    assert _deliver(area, integration, data, headers).status_code == 415


def test_an_involvement_asks_for_its_citizen_in_one_query(area: AreaClient, integration: str,
                                                          secret: str) -> None:
    """Its lookup and the one rule 1 may have made of the reference as sent, in one round
    trip: a new citizen, and one seen before."""
    activity_id = new_id("HR-")
    assert _deliver(area, integration,
                    *_signed(secret, _activity_command(area, activity_id))).status_code == 202
    engine = area.app.extensions["db"].engine
    asked: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and " citizens" in statement:
            asked.append(statement)

    reference = new_id("CIT-")  # in capitals: rule 1 kept another form than rule 2
    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(2):
            asked.clear()
            command = {"type": "involvement.recorded", "data": {
                "activity_id": activity_id, **involvement(area.area, reference)}}
            response = _deliver(area, integration, *_signed(secret, command))
            assert response.status_code == 202, response.json
            assert len(asked) == 1, asked
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
