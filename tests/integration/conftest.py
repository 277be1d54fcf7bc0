"""Migrated databases and apps of one service, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from shared.area.models import ApiToken, Outbox
from shared.auth import create_token
from shared.db import Database
from shared.embedded_redis import EmbeddedRedis
from shared.migrations import upgrade
from tests.support.areas import AREAS, COURSE
from tests.support.databases import database

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(backend: str, tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[MakeApp]:
    """Build a service's app over a freshly migrated database of the current backend."""
    stack = ExitStack()
    apps: list[Flask] = []

    def build(service: str, **config: Any) -> Flask:
        url = stack.enter_context(database(backend, tmp_path, f"{service}{len(apps)}"))
        upgrade(service, url)
        module = __import__(f"services.{service}", fromlist=["create_app"])
        # Rate-limit counts of one app only: the session's Redis is shared by every test.
        prefix = f"test-{uuid.uuid4().hex}"
        app: Flask = module.create_app(
            {"DATABASE_URL": url, "REDIS_URL": redis_server.url, "TESTING": True,
             "RATE_LIMIT_KEY_PREFIX": prefix, **config})
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["db"].dispose()
    stack.close()


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

    def headers(self, verb: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[verb]}"}

    def post(self, path: str, verb: str = "write", **kwargs: Any) -> Any:
        return self.http.post(path, headers={**self.headers(verb), **kwargs.pop("headers", {})},
                              **kwargs)

    def get(self, path: str, verb: str = "read", **kwargs: Any) -> Any:
        return self.http.get(path, headers=self.headers(verb), **kwargs)

    def patch(self, path: str, verb: str = "write", **kwargs: Any) -> Any:
        return self.http.patch(path, headers=self.headers(verb), **kwargs)

    def events(self) -> list[dict[str, Any]]:
        """What the service has put in its outbox for the ledger, oldest first."""
        with self.app.extensions["db"].reading() as session:
            rows = session.scalars(sa.select(Outbox.payload).order_by(Outbox.id))
            return [json.loads(p) for p in rows]

    def count(self, table: str) -> int:
        with self.app.extensions["db"].reading() as session:
            return int(session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)

    def writes(self) -> dict[str, int]:
        """Row counts of every table a request could write to."""
        return {t: self.count(t) for t in ("activities", "involvements", "outbox", "citizens",
                                           "receipts")}


@pytest.fixture(params=AREAS)
def area(request: pytest.FixtureRequest, make_app: MakeApp) -> AreaClient:
    """Each domain service in turn, migrated, with tokens (and, for training, a course)."""
    client = AreaClient(request.param, make_app(request.param))
    if request.param == "training":
        assert client.post("/v1/courses", json=COURSE).status_code == 201
    return client


