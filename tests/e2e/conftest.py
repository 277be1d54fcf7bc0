"""The real processes, started from the Procfile exactly as `make run` starts them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from shared.config import SERVICES
from tests.support.databases import BACKENDS, migrated
from tests.support.stack import WRITE_PATH, Stack, prepare

__all__ = ["WRITE_PATH", "Stack", "module_stack", "needs", "running_stack"]


def needs(*processes: str) -> pytest.MarkDecorator:
    """Mark a test that needs only these processes of the Procfile started, not every one:
    each costs a second or more of CPU to start (its app's imports), on two cores."""
    return pytest.mark.processes(*processes)


@contextmanager
def running_stack(backend: str, directory: Path, *processes: str, **env: str
                  ) -> Iterator[Stack]:
    """The Procfile's processes (those named, or every one) on ``backend``, with a private
    Redis and databases of their own in ``directory``; killed at the end. A module whose
    tests do not disturb each other shares one (each test reads only what it wrote, after
    what it found): starting a stack costs 10 to 16 s of CPU on two cores."""
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as exits:
        urls = {s: exits.enter_context(migrated(backend, directory, s, s)) for s in SERVICES}
        running = prepare(directory / "stack", urls, migrate=False, **env)
        exits.callback(running.kill_all)
        running.start(*processes)
        yield running


def module_stack(fixture: str, *processes: str, backends: Sequence[str] = BACKENDS,
                 **env: str) -> Any:
    """A module-scoped fixture named ``fixture``: one stack per backend of ``backends``
    (``running_stack``) for the module's tests, which must not disturb each other."""

    @pytest.fixture(name=fixture, scope="module", params=backends)
    def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Stack]:
        with running_stack(str(request.param), tmp_path_factory.mktemp(fixture), *processes,
                           **env) as running:
            yield running

    return shared


@pytest.fixture
def make_stack(backend: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[Callable[..., Stack]]:
    """Start the Procfile's processes on the current database backend: every one, or those
    the test's ``needs`` mark names."""
    marked = request.node.get_closest_marker("processes")
    processes = marked.args if marked else ()
    with ExitStack() as exits:
        built = 0

        def build(**env: str) -> Stack:
            nonlocal built
            built += 1
            return exits.enter_context(
                running_stack(backend, tmp_path / f"stack{built}", *processes, **env))

        yield build


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """The processes running with the default settings."""
    return make_stack()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


os.environ.setdefault("LADDER_LOG_LEVEL", "INFO")
