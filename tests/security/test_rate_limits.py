"""Rate limits answer 429 with Retry-After, in the one error shape, and write nothing."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from standardwebhooks import Webhook

from shared import limits
from shared.area.integrations import create_integration
from shared.area.models import ApiToken
from shared.auth import create_token
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.limits import redis_url
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


def test_the_embedded_redis_on_its_unix_socket_keeps_the_counts(
        make_app: MakeApp, tmp_path: Path) -> None:
    # make run's default: kombu says redis+socket://, redis-py unix://.
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        assert server.url.startswith("redis+socket://")
        assert redis_url(server.url) == "unix://" + server.url.removeprefix("redis+socket://")
        app = make_app("recruitment", RATE_LIMIT_API="2 per minute",
                       RATE_LIMIT_STORAGE_URL=server.url)
        http, auth = app.test_client(), _token(app, ["recruitment:read"])
        assert [http.get("/v1/vacancies", headers=auth).status_code for _ in range(3)] == [
            200, 200, 429]
        counted = redis.Redis(unix_socket_path=str(server.unixsocket))
        assert any(b":api:token:" in key for key in counted.keys("*"))
    finally:
        server.stop()
    assert redis_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_every_limit_of_a_request_is_counted_in_one_round_trip(
        make_app: MakeApp, tmp_path: Path) -> None:
    """A webhook is under two limits (its integration's, its address's) and a REST call
    under two (its token's, its address's): each request is one command to Redis."""
    server = EmbeddedRedis(tmp_path / "redis", port=free_port()).start()
    try:
        app = make_app("recruitment", RATE_LIMIT_STORAGE_URL=server.url,
                       RATE_LIMIT_API="50 per minute", RATE_LIMIT_WEBHOOKS="50 per minute",
                       RATE_LIMIT_ADDRESS="50 per minute")
        http, auth = app.test_client(), _token(app, ["recruitment:read"])
        secret = create_integration(app.extensions["db"], "hr-system")
        http.get("/v1/vacancies", headers=auth)  # the script is loaded once, here
        # Every command the limiter's client sends, each a round trip (no pipelines)...
        client = app.extensions["limits"].redis
        sent: list[str] = []
        send = client.execute_command
        client.execute_command = lambda *args, **kw: sent.append(args[0]) or send(*args, **kw)
        # ... and what the server ran for clients, not counting the script's own calls.
        counted = redis.Redis(port=server.port)
        evalsha = counted.info("commandstats")["cmdstat_evalsha"]["calls"]
        for n in range(5):
            assert http.get("/v1/vacancies", headers=auth).status_code == 200
            data, headers = _signed(secret, {"type": "activity.recorded", "data": {
                **ACTIVITIES["recruitment"], "id": f"V-{n}"}})
            assert http.post("/v1/webhooks/hr-system", data=data,
                             headers=headers).status_code == 202
        assert sent == ["EVALSHA"] * 10
        assert counted.info("commandstats")["cmdstat_evalsha"]["calls"] - evalsha == 10
        # Every limit of each request was counted: the token's 7 requests, and the
        # address's 12, the webhooks' too.
        assert http.get("/v1/vacancies", headers=auth).headers["X-RateLimit-Remaining"] == "43"
        [address] = counted.keys("*:address:*:current")
        assert counted.get(address) == b"12"
    finally:
        server.stop()


def test_the_headers_say_what_is_left_of_the_tokens_own_limit(make_app: MakeApp) -> None:
    app = make_app("recruitment", RATE_LIMIT_API="3 per minute",
                   RATE_LIMIT_ADDRESS="100 per minute")
    http, auth = app.test_client(), _token(app, ["recruitment:read"])
    answers = [http.get("/v1/vacancies", headers=auth) for _ in range(4)]
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3"] * 4
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert -1 <= int(answer.headers["X-RateLimit-Reset"]) - time.time() <= 60
    assert [("Retry-After" in a.headers) for a in answers] == [False] * 3 + [True]
    _assert_limited(answers[-1])
    # Never limited, so no figures.
    assert "X-RateLimit-Limit" not in http.get("/healthz").headers


def test_a_refused_request_uses_up_no_other_limit(make_app: MakeApp) -> None:
    """Counted against every limit or none: a token over its own limit does not use up
    its address's allowance, which another token from the address still has."""
    app = make_app("recruitment", RATE_LIMIT_API="2 per minute",
                   RATE_LIMIT_ADDRESS="4 per minute")
    http = app.test_client()
    first, second = _token(app, ["recruitment:read"]), _token(app, ["recruitment:read"])
    assert [http.get("/v1/vacancies", headers=first).status_code for _ in range(5)] == [
        200, 200, 429, 429, 429]
    assert [http.get("/v1/vacancies", headers=second).status_code for _ in range(3)] == [
        200, 200, 429]


def _clear_of_the_minutes_end(margin: float = 10.0) -> None:
    """Wait for the next minute of the clock if this one has less than ``margin`` seconds
    left. In memory, the ``limits`` library's windows are the clock's minutes, and the
    last one's count is weighed by how much of it is left, rounded down: two requests
    just before a minute begins count as one just after it, and a third fits. (In Redis a
    window starts at its key's first request.)"""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


def test_while_redis_is_away_the_limits_count_in_memory(make_app: MakeApp) -> None:
    # Nothing listens on the port: every count falls back to this process's memory.
    app = make_app("recruitment", RATE_LIMIT_API="2 per minute",
                   RATE_LIMIT_STORAGE_URL=f"redis://127.0.0.1:{free_port()}/0")
    http, auth = app.test_client(), _token(app, ["recruitment:read"])
    _clear_of_the_minutes_end()
    answers = [http.get("/v1/vacancies", headers=auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    _assert_limited(answers[-1])


def test_counting_returns_to_redis_once_it_is_back(
        make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis away: counted in memory, for RETRY_REDIS_AFTER, then in Redis again, which
    (restarted, its scripts forgotten) has kept the counts from before."""
    monkeypatch.setattr(limits, "RETRY_REDIS_AFTER", 600.0)
    server = EmbeddedRedis(tmp_path / "redis", port=free_port()).start()
    try:
        app = make_app("recruitment", RATE_LIMIT_STORAGE_URL=server.url,
                       RATE_LIMIT_API="50 per minute")
        http, auth = app.test_client(), _token(app, ["recruitment:read"])
        counted = redis.Redis(port=server.port)

        def in_redis() -> int:
            [key] = counted.keys("*:api:*:current")
            return int(counted.get(key) or 0)

        for _ in range(2):
            assert http.get("/v1/vacancies", headers=auth).status_code == 200
        assert in_redis() == 2
        server.stop()
        away = http.get("/v1/vacancies", headers=auth)
        assert away.status_code == 200 and away.headers["X-RateLimit-Remaining"] == "49"
        server.start()
        # Within RETRY_REDIS_AFTER: in memory, though Redis is back.
        assert http.get("/v1/vacancies", headers=auth).status_code == 200
        assert in_redis() == 2
        # RETRY_REDIS_AFTER has passed (rather than waiting it out on a busy machine).
        app.extensions["limits"].redis_away_until = time.monotonic()
        back = http.get("/v1/vacancies", headers=auth)
        assert back.status_code == 200 and back.headers["X-RateLimit-Remaining"] == "47"
        assert in_redis() == 3
    finally:
        server.stop()
