"""The real processes, started from the Procfile exactly as `make run` starts them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from shared.config import SERVICES
from tests.support.databases import migrated
from tests.support.stack import Stack, prepare

__all__ = ["Stack"]


@pytest.fixture
def make_stack(backend: str, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start everything on the current database backend, with a private Redis."""
    with ExitStack() as exits:

        def build(**env: str) -> Stack:
            directory = tmp_path / f"stack{len(exits._exit_callbacks)}"
            urls = {s: exits.enter_context(migrated(backend, directory.parent, s, s))
                    for s in SERVICES}
            running = prepare(directory, urls, migrate=False, **env)
            exits.callback(running.kill_all)
            running.start()
            return running

        yield build


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """Everything running with the default settings."""
    return make_stack()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


os.environ.setdefault("LADDER_LOG_LEVEL", "INFO")
