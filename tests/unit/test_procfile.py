"""The Procfile is the one list of processes that `make run` starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import procfile

ROOT = Path(__file__).resolve().parents[2]


def test_every_service_both_workers_and_the_relay_are_listed() -> None:
    names = list(procfile.parse(ROOT / "Procfile"))
    assert names == ["ledger", "recruitment", "training", "inspection", "ledger-worker",
                     "webhook-worker", "relay"]


def test_commands_expand_from_the_environment_with_defaults() -> None:
    env = procfile.environment({"RECRUITMENT_PORT": "9001"})
    argv = procfile.expand(procfile.parse(ROOT / "Procfile")["recruitment"], env)
    assert argv[:3] == ["gunicorn", "--bind", "127.0.0.1:9001"]
    assert argv[-1] == "services.recruitment:create_app()"


def test_an_unset_variable_is_an_error() -> None:
    with pytest.raises(KeyError, match="NOPE"):
        procfile.expand("run ${NOPE}", {})
