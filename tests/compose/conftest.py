"""tests/compose/ runs only under `make compose-test` (tests/compose/run), which starts a
Docker engine of its own and names its socket in LADDER_TEST_DOCKER_HOST. Anywhere else
(`make test`, or a developer's own engine in DOCKER_HOST) nothing here is collected."""

from __future__ import annotations

import os

import pytest

from tests.compose import stages

collect_ignore_glob = [] if os.environ.get("LADDER_TEST_DOCKER_HOST") else ["test_*.py"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if stages.TIMES:
        terminalreporter.section("compose stages")
        for line in stages.TIMES:
            terminalreporter.write_line(line)
