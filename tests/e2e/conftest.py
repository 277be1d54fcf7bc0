"""The real processes, started from the Procfile exactly as `make run` starts them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from shared.config import SERVICES
from tests.support.databases import migrated
from tests.support.stack import WRITE_PATH, Stack, prepare

__all__ = ["WRITE_PATH", "Stack", "needs", "shared_stack"]


def needs(*processes: str) -> pytest.MarkDecorator:
    """Mark a test that needs only these processes of the Procfile started, not every one:
    each costs a second or more of CPU to start (its app's imports), on two cores."""
    return pytest.mark.processes(*processes)


@pytest.fixture
def make_stack(backend: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[Callable[..., Stack]]:
    """Start the Procfile's processes on the current database backend, with a private
    Redis: every one, or those the test's ``needs`` mark names."""
    marked = request.node.get_closest_marker("processes")
    with ExitStack() as exits:

        def build(**env: str) -> Stack:
            directory = tmp_path / f"stack{len(exits._exit_callbacks)}"
            urls = {s: exits.enter_context(migrated(backend, directory.parent, s, s))
                    for s in SERVICES}
            running = prepare(directory, urls, migrate=False, **env)
            exits.callback(running.kill_all)
            running.start(*(marked.args if marked else ()))
            return running

        yield build


@contextmanager
def shared_stack(backend: str, directory: Path, *processes: str) -> Iterator[Stack]:
    """The Procfile's processes (those named, or every one), with the default settings, for
    a module's tests that do not disturb each other: each reads only what it wrote, after
    what it found. Starting a stack costs 10 to 16 s of CPU on two cores."""
    with ExitStack() as exits:
        urls = {s: exits.enter_context(migrated(backend, directory, s, s)) for s in SERVICES}
        running = prepare(directory / "stack", urls, migrate=False)
        exits.callback(running.kill_all)
        running.start(*processes)
        yield running


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """The processes running with the default settings."""
    return make_stack()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


os.environ.setdefault("LADDER_LOG_LEVEL", "INFO")
