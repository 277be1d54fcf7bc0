"""Migrated databases and apps of one service, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from services.ledger import service as ledger_service
from services.ledger.models import ApiToken as LedgerToken
from services.ledger.models import WebhookMessage
from services.ledger.webhooks import delivery
from services.ledger.webhooks.settings import Settings
from shared import areas
from shared.area.integrations import create_integration
from shared.area.models import ApiToken, Outbox
from shared.auth import create_token
from shared.db import Database
from shared.embedded_redis import EmbeddedRedis
from shared.migrations import OWN_HISTORY
from shared.networks import parse_networks
from shared.times import naive_utcnow
from tests.support import appending
from tests.support.areas import ACTIVITIES, AREAS, PATHS, SETUP
from tests.support.databases import BACKENDS, contents, migrated
from tests.support.receiver import Receiver

MakeApp = Callable[..., Flask]
# What an inspect token or grant states: why it reads entries.
PURPOSE = "CQC inspection of Rose House, DSA-2026-14"
# A subscription that gets the entries themselves.
INSPECT_GRANT = {"grant": "inspect", "purpose": PURPOSE}


@contextmanager
def _building(backend: str, directory: Path, redis_server: EmbeddedRedis,
              **defaults: Any) -> Iterator[MakeApp]:
    """Build apps of any service over freshly migrated databases of ``backend``; each
    app's database is given back when the context ends."""
    with ExitStack() as stack:
        apps: list[Flask] = []

        def build(service: str, **config: Any) -> Flask:
            url = stack.enter_context(migrated(backend, directory, f"{service}{len(apps)}",
                                               service))
            module = importlib.import_module(
                OWN_HISTORY.get(service) or areas.get(service).module)
            # Rate-limit counts of one app only: the session's Redis is shared by every test.
            prefix = f"test-{uuid.uuid4().hex}"
            # An erasure erases in the areas given, by default this one's database only (not
            # the var directory's).
            app: Flask = module.create_app(
                {"DATABASE_URL": url, "REDIS_URL": redis_server.url, "TESTING": True,
                 "RATE_LIMIT_KEY_PREFIX": prefix, "AREA_DATABASE_URLS": {service: url},
                 **defaults, **config})
            apps.append(app)
            stack.callback(app.extensions["db"].dispose)
            return app

        yield build


@pytest.fixture
def make_app(backend: str, tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[MakeApp]:
    """Build a service's app over a freshly migrated database of the current backend."""
    with _building(backend, tmp_path, redis_server) as build:
        yield build


# A module's shared app takes every request of its tests, from one token, one integration
# and one address: each test a module gains brings the default limits (1200 a minute per
# token or integration, shared/config.py) closer, and a 429 would fail a test for what
# others sent. test_rate_limits.py proves the limits, on apps of its own.
SHARED_LIMITS = {key: "100000 per minute"
                 for key in ("RATE_LIMIT_API", "RATE_LIMIT_WEBHOOKS", "RATE_LIMIT_ADDRESS")}


@pytest.fixture(scope="module", params=BACKENDS)
def module_make_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    redis_server: EmbeddedRedis) -> Iterator[MakeApp]:
    """``make_app`` for apps that all the tests of a module share, on each backend in turn
    (as ``shared_area`` is). Its tests must not rely on an empty database."""
    backend = str(request.param)
    with _building(backend, tmp_path_factory.mktemp(f"apps-{backend}"), redis_server,
                   **SHARED_LIMITS) as build:
        yield build


def new_id(prefix: str) -> str:
    """An id that no other test writing to a shared database uses."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture
def ledger_db(make_app: MakeApp) -> Database:
    """The ledger's database, migrated and empty."""
    db: Database = make_app("ledger").extensions["db"]
    return db


class AreaClient:
    """A test client of one domain service, holding tokens of every scope."""

    def __init__(self, area: str, app: Flask) -> None:
        self.area = area
        self.app = app
        self.http: FlaskClient = app.test_client()
        db = app.extensions["db"]
        pepper = app.config["TOKEN_PEPPER"]
        self.tokens = {verb: create_token(db, ApiToken, pepper, verb, [f"{area}:{verb}"])
                       for verb in ("read", "write", "admin")}
        self._integration: tuple[str, str] | None = None

    def headers(self, verb: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[verb]}"}

    def post(self, path: str, verb: str = "write", **kwargs: Any) -> Any:
        return self.http.post(path, headers={**self.headers(verb), **kwargs.pop("headers", {})},
                              **kwargs)

    def get(self, path: str, verb: str = "read", **kwargs: Any) -> Any:
        return self.http.get(path, headers=self.headers(verb), **kwargs)

    def patch(self, path: str, verb: str = "write", **kwargs: Any) -> Any:
        return self.http.patch(path, headers=self.headers(verb), **kwargs)

    def activity(self, **changes: Any) -> str:
        """Record the area's sample activity, with ``changes``: its id."""
        response = self.post(f"/v1/{PATHS[self.area]}", json={**ACTIVITIES[self.area], **changes})
        assert response.status_code == 202, response.json
        return str(response.json["id"])

    def events(self) -> list[dict[str, Any]]:
        """What the service has put in its outbox for the ledger, oldest first."""
        with self.app.extensions["db"].reading() as session:
            rows = session.scalars(sa.select(Outbox.payload).order_by(Outbox.id))
            return [json.loads(p) for p in rows]

    def count(self, table: str) -> int:
        with self.app.extensions["db"].reading() as session:
            return int(session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)

    def integration(self) -> tuple[str, str]:
        """The name and secret of an integration of the client's own, made on first use."""
        if self._integration is None:
            name = new_id("hr-")
            self._integration = (name, create_integration(self.app.extensions["db"], name))
        return self._integration

    def contents(self) -> dict[str, tuple[int, str]]:
        """What every table of the service's database holds, the outbox among them."""
        return contents(self.app.extensions["db"])


def set_up_area(area: str, app: Flask) -> AreaClient:
    """A client of the area's app, with what its activities refer to (training's course)."""
    client = AreaClient(area, app)
    for item in SETUP[area]:
        assert client.post(item.path, json=item.body).status_code == 201
    return client


@pytest.fixture(params=AREAS)
def area(request: pytest.FixtureRequest, make_app: MakeApp) -> AreaClient:
    """Each area in turn, migrated, with tokens and what its activities refer to (training's
    course)."""
    return set_up_area(request.param, make_app(request.param))


@pytest.fixture(scope="module", params=[(backend, name) for backend in BACKENDS for name in AREAS],
                ids="-".join)
def shared_area(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                redis_server: EmbeddedRedis) -> Iterator[AreaClient]:
    """``area`` for all the tests of a module to share, on each backend: building an app
    over a migrated database costs more than most tests do, and `make test` runs a module
    in one process (--dist loadfile). The module's tests must not rely on an empty
    database: each uses ids of its own, and compares what it wrote with what was there
    before (``contents``)."""
    backend, name = request.param
    with _building(backend, tmp_path_factory.mktemp(f"{name}-{backend}"), redis_server,
                   **SHARED_LIMITS) as build:
        yield set_up_area(name, build(name))


class Clock:
    """The schedule's clock, moved by the test instead of by sleeping."""

    def __init__(self) -> None:
        self.now = naive_utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def catch_up(self) -> None:
        """Not behind the real time at which rows were just written."""
        self.now = max(self.now, naive_utcnow())


class Hooks:
    """The ledger with reader, inspector and admin tokens, a real receiver, and deliveries
    run by hand."""

    def __init__(self, app: Flask, receiver: Receiver) -> None:
        self.app = app
        self.http: FlaskClient = app.test_client()
        self.db: Database = app.extensions["db"]
        pepper = app.config["TOKEN_PEPPER"]
        self.admin = create_token(self.db, LedgerToken, pepper, "ops", ["ledger:admin"])
        self.auditor = create_token(self.db, LedgerToken, pepper, "board", ["ledger:read"])
        self.inspector = create_token(self.db, LedgerToken, pepper, "cqc", ["ledger:inspect"],
                                      PURPOSE)
        self.receiver = receiver
        self.clock = Clock()
        self.rand = lambda: 0.5  # no jitter, unless a test says otherwise

    @property
    def settings(self) -> Settings:
        return Settings.from_config(self.app.config)

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return self.http.open(path, method=method, headers=headers, **kwargs)

    def subscribe(self, path: str = "/hook", **body: Any) -> dict[str, Any]:
        """Subscribe the receiver at ``path``; it then verifies with the secret."""
        response = self.call("POST", "/v1/subscriptions",
                             json={"url": self.receiver.url(path), **body})
        assert response.status_code == 201, response.json
        self.receiver.trust(path, response.json["secret"])
        return dict(response.json)

    def append(self, events: list[dict[str, Any]]) -> appending.Appended:
        """Append, then let the followers catch up: the result and the webhook messages."""
        result = ledger_service.append_batch(self.db, events, self.app.extensions["signer"])
        assert result.rejected == 0
        appended = appending.Appended(result, appending.follow(self.db, self.settings))
        self.clock.catch_up()
        return appended

    def deliver(self, message_id: str) -> delivery.Delivery:
        return delivery.deliver(self.db, self.settings, message_id, now=self.clock,
                                rand=self.rand)

    def due(self) -> list[str]:
        """Pending messages whose time has come by the test's clock."""
        with self.db.reading() as session:
            return list(session.scalars(
                sa.select(WebhookMessage.id)
                .where(WebhookMessage.status == "pending",
                       WebhookMessage.next_attempt_at <= self.clock())
                .order_by(WebhookMessage.id)))

    def deliver_due(self) -> list[delivery.Delivery]:
        self.clock.catch_up()
        return [self.deliver(message_id) for message_id in self.due()]

    def message(self, sub_id: str, message_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/v1/subscriptions/{sub_id}/messages/{message_id}")
        assert response.status_code == 200, response.json
        return dict(response.json)

    def messages(self, sub_id: str, **params: Any) -> list[dict[str, Any]]:
        response = self.call("GET", f"/v1/subscriptions/{sub_id}/messages",
                             query_string=params)
        assert response.status_code == 200, response.json
        return list(response.json["items"])

    def attempts(self, sub_id: str, **params: Any) -> list[dict[str, Any]]:
        """One page of the subscription's delivery log."""
        response = self.call("GET", f"/v1/subscriptions/{sub_id}/attempts",
                             query_string=params)
        assert response.status_code == 200, response.json
        assert set(response.json) == {"items", "next_after"}
        return list(response.json["items"])

    def subscription(self, sub_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/v1/subscriptions/{sub_id}").json)


LOCAL = parse_networks("127.0.0.0/8")


@pytest.fixture
def hooks(make_app: MakeApp, receiver: Receiver) -> Hooks:
    """The ledger, allowed to send to 127.0.0.0/8, with a receiver there."""
    return Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL), receiver)
