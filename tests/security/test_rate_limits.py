"""Rate limits answer 429 with Retry-After, in the one error shape, and write nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from limits.storage import storage_from_string
from standardwebhooks import Webhook

from shared.area.integrations import create_integration
from shared.area.models import ApiToken
from shared.auth import create_token
from shared.embedded_redis import EmbeddedRedis
from shared.limits import storage_uri
from tests.integration.conftest import AreaClient, MakeApp
from tests.support.areas import ACTIVITIES


def _token(app: Flask, scopes: list[str]) -> dict[str, str]:
    token = create_token(app.extensions["db"], ApiToken, app.config["TOKEN_PEPPER"], "rl", scopes)
    return {"Authorization": f"Bearer {token}"}


def _assert_limited(response: object) -> None:
    assert response.status_code == 429  # type: ignore[attr-defined]
    body = response.json  # type: ignore[attr-defined]
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 429
    assert int(response.headers["Retry-After"]) >= 1  # type: ignore[attr-defined]


def test_a_token_over_its_limit_gets_429_with_retry_after(make_app: MakeApp) -> None:
    app = make_app("recruitment", RATE_LIMIT_API="3 per minute")
    http = app.test_client()
    mine, other = _token(app, ["recruitment:read"]), _token(app, ["recruitment:read"])
    for _ in range(3):
        assert http.get("/v1/vacancies", headers=mine).status_code == 200
    _assert_limited(http.get("/v1/vacancies", headers=mine))
    # Another token has its own allowance; health checks are never limited.
    assert http.get("/v1/vacancies", headers=other).status_code == 200
    assert http.get("/healthz").status_code == 200
    assert http.get("/openapi.json").status_code == 200


def test_a_limited_write_writes_nothing(make_app: MakeApp) -> None:
    app = make_app("recruitment", RATE_LIMIT_API="1 per minute")
    client = AreaClient("recruitment", app)
    assert client.post("/v1/vacancies", json=ACTIVITIES["recruitment"]).status_code == 202
    before = client.contents()
    _assert_limited(client.post("/v1/vacancies", json=ACTIVITIES["recruitment"]))
    assert client.contents() == before


def _signed(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    return body.encode(), {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                           "webhook-signature": Webhook(secret).sign(msg_id, now, body),
                           "Content-Type": "application/json"}


def test_webhooks_are_limited_per_integration(make_app: MakeApp) -> None:
    app = make_app("recruitment", RATE_LIMIT_WEBHOOKS="2 per minute")
    http = app.test_client()
    db = app.extensions["db"]
    hr, lms = create_integration(db, "hr-system"), create_integration(db, "other")
    command = {"type": "activity.recorded", "data": ACTIVITIES["recruitment"]}
    for n in range(2):
        data, headers = _signed(hr, {**command, "data": {**command["data"], "id": f"V-{n}"}})
        assert http.post("/v1/webhooks/hr-system", data=data, headers=headers).status_code == 202
    data, headers = _signed(hr, command)
    client = AreaClient("recruitment", app)
    before = client.contents()
    _assert_limited(http.post("/v1/webhooks/hr-system", data=data, headers=headers))
    assert client.contents() == before
    data, headers = _signed(lms, command)
    assert http.post("/v1/webhooks/other", data=data, headers=headers).status_code == 202


def test_inventing_tokens_does_not_escape_the_per_address_limit(make_app: MakeApp) -> None:
    app = make_app("ledger", RATE_LIMIT_ADDRESS="5 per minute")
    http = app.test_client()
    statuses = [http.get("/v1/entries", headers={"Authorization": f"Bearer ldr_made-up-{i}"})
                .status_code for i in range(6)]
    assert statuses == [401] * 5 + [429]


def test_limits_are_counted_in_redis_so_workers_share_them(make_app: MakeApp) -> None:
    # Two apps are two gunicorn workers: same Redis, same prefix, one allowance.
    first = make_app("recruitment", RATE_LIMIT_API="2 per minute",
                     RATE_LIMIT_KEY_PREFIX="shared-workers")
    second = make_app("recruitment", RATE_LIMIT_API="2 per minute",
                      RATE_LIMIT_KEY_PREFIX="shared-workers")
    # One token, valid in both (the second app's database gets the same hash).
    token = create_token(first.extensions["db"], ApiToken, first.config["TOKEN_PEPPER"], "w",
                         ["recruitment:read"])
    with first.extensions["db"].reading() as session:
        row = session.query(ApiToken).one()
    with second.extensions["db"].writing() as session:
        session.add(ApiToken(name=row.name, token_hash=row.token_hash, scopes=row.scopes,
                             created_at=row.created_at))
    auth = {"Authorization": f"Bearer {token}"}
    assert first.test_client().get("/v1/vacancies", headers=auth).status_code == 200
    assert second.test_client().get("/v1/vacancies", headers=auth).status_code == 200
    _assert_limited(first.test_client().get("/v1/vacancies", headers=auth))


def test_the_embedded_redis_on_its_unix_socket_keeps_the_counts(tmp_path: Path) -> None:
    # make run's default: kombu says redis+socket://, the limits library redis+unix://.
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        assert server.url.startswith("redis+socket://")
        storage = storage_from_string(storage_uri(server.url))
        assert storage.check()
        assert [storage.incr("k", 60) for _ in range(2)] == [1, 2]
    finally:
        server.stop()
    assert storage_uri("redis://cache:6379/0") == "redis://cache:6379/0"
