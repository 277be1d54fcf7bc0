"""Signed webhooks into every area, verified with the standardwebhooks library."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from shared.area.integrations import create_integration, rotate_integration
from shared.logs import REQUEST_ID_HEADER
from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, involvement


@pytest.fixture
def secret(area: AreaClient) -> str:
    """The whsec_ secret of an integration called hr-system."""
    return create_integration(area.app.extensions["db"], "hr-system")


Signed = tuple[bytes, dict[str, str]]


def _signed(secret: str, payload: Any, *, msg_id: str | None = None,
            when: datetime | None = None, body: bytes | None = None) -> Signed:
    data = body if body is not None else json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, data.decode("utf-8", "replace"))
    return data, {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                  "webhook-signature": signature, "Content-Type": "application/json"}


def _deliver(area: AreaClient, data: bytes, headers: dict[str, str],
             integration: str = "hr-system") -> Any:
    return area.http.post(f"/v1/webhooks/{integration}", data=data, headers=headers)


def _activity_command(area: AreaClient, activity_id: str = "HR-1") -> dict[str, Any]:
    return {"type": "activity.recorded", "data": {**ACTIVITIES[area.area], "id": activity_id}}


def test_a_signed_webhook_records_activity_and_involvement(area: AreaClient, secret: str) -> None:
    assert _deliver(area, *_signed(secret, _activity_command(area))).status_code == 202
    command = {"type": "involvement.recorded",
               "data": {"activity_id": "HR-1", **involvement(area.area)}}
    response = _deliver(area, *_signed(secret, command))
    assert response.status_code == 202, response.json
    assert response.json["type"] == "involvement.recorded"
    assert response.json["result"]["step"] == 7
    assert [e["type"] for e in area.events()] == ["org.ladder.activity.recorded",
                                                  "org.ladder.involvement.recorded"]


def test_a_replayed_webhook_is_applied_once(area: AreaClient, secret: str) -> None:
    _deliver(area, *_signed(secret, _activity_command(area)))
    command = {"type": "involvement.recorded",
               "data": {"activity_id": "HR-1", **involvement(area.area)}}
    data, headers = _signed(secret, command, msg_id="msg_replay")
    first = _deliver(area, data, headers)
    writes = area.writes()
    again = _deliver(area, data, headers)
    assert first.status_code == again.status_code == 202
    assert again.json == first.json
    assert area.writes() == writes
    assert len(area.events()) == 2


def test_a_refused_webhook_can_be_delivered_again_once_fixed(
    area: AreaClient, secret: str
) -> None:
    command = {"type": "involvement.recorded",
               "data": {"activity_id": "HR-1", **involvement(area.area)}}
    data, headers = _signed(secret, command, msg_id="msg_early")
    assert _deliver(area, data, headers).status_code == 404
    _deliver(area, *_signed(secret, _activity_command(area)))
    assert _deliver(area, data, headers).status_code == 202


def _tampered(secret: str, payload: Any) -> Signed:
    data, headers = _signed(secret, payload)
    return data.replace(b"HR-1", b"HR-2"), headers


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
    area: AreaClient, secret: str, forge: Any
) -> None:
    before = area.writes()
    response = _deliver(area, *forge(secret, _activity_command(area)))
    assert response.status_code == 401
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert area.writes() == before


def test_an_unknown_integration_is_401(area: AreaClient, secret: str) -> None:
    """Answered exactly as a bad signature is: nothing tells a prober the name is unknown."""
    before = area.writes()
    unknown = _deliver(area, *_signed(secret, _activity_command(area)), integration="nobody")
    bad = _deliver(area, *_wrong_secret(secret, _activity_command(area)))
    assert unknown.status_code == bad.status_code == 401
    assert unknown.get_data() == bad.get_data()
    assert _answer_headers(unknown) == _answer_headers(bad)
    assert area.writes() == before


def _answer_headers(response: Any) -> dict[str, str]:
    """A response's headers, but those that name the request (its id) or the moment."""
    return {k: v for k, v in response.headers.items()
            if k.lower() not in (REQUEST_ID_HEADER.lower(), "date")}


def test_both_secrets_are_valid_during_rotation(area: AreaClient, secret: str) -> None:
    new = rotate_integration(area.app.extensions["db"], "hr-system")
    assert _deliver(area, *_signed(secret, _activity_command(area, "A"))).status_code == 202
    assert _deliver(area, *_signed(new, _activity_command(area, "B"))).status_code == 202
    newer = rotate_integration(area.app.extensions["db"], "hr-system")
    assert _deliver(area, *_signed(secret, _activity_command(area, "C"))).status_code == 401
    assert _deliver(area, *_signed(newer, _activity_command(area, "D"))).status_code == 202


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
    area: AreaClient, secret: str, payload: Any, status: int, named: str | None
) -> None:
    before = area.writes()
    body = b"{not json" if payload is None else None
    response = _deliver(area, *_signed(secret, payload, body=body))
    assert response.status_code == status
    if named:
        assert named in json.dumps(response.json["errors"]) or named in response.json["message"]
    assert area.writes() == before


def test_a_webhook_with_the_wrong_content_type_is_415(area: AreaClient, secret: str) -> None:
    data, headers = _signed(secret, _activity_command(area))
    headers["Content-Type"] = "text/plain"
    assert _deliver(area, data, headers).status_code == 415
