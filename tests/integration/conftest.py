"""Migrated databases and apps of one service, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from shared.db import Database
from shared.embedded_redis import EmbeddedRedis
from shared.migrations import upgrade
from tests.support.databases import database

MakeApp = Callable[[str], Flask]


@pytest.fixture
def make_app(backend: str, tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[MakeApp]:
    """Build a service's app over a freshly migrated database of the current backend."""
    stack = ExitStack()
    apps: list[Flask] = []

    def build(service: str, **config: Any) -> Flask:
        url = stack.enter_context(database(backend, tmp_path, service))
        upgrade(service, url)
        module = __import__(f"services.{service}", fromlist=["create_app"])
        app: Flask = module.create_app(
            {"DATABASE_URL": url, "REDIS_URL": redis_server.url, "TESTING": True, **config})
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
