"""docker-compose itself reads docker-compose.yml: it is valid, refuses missing secrets,
and each service's command is the Procfile's, as `make run` runs it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from shared import procfile
from shared.config import SERVICES, database_url
from tests.compose.deployment import Deployment
from tests.support import compose


def test_docker_compose_config_passes_with_the_secrets_set(tmp_path: Path) -> None:
    result = compose.run(compose.env_file(tmp_path), "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_env_example_as_it_is_does_not_start(tmp_path: Path) -> None:
    result = compose.run(compose.env_file(tmp_path, **{s: "" for s in compose.SECRETS}),
                         "config", "--quiet")
    assert result.returncode != 0
    assert "in .env" in result.stderr


@pytest.mark.parametrize("secret", compose.SECRETS)
def test_docker_compose_refuses_to_start_without_a_secret(tmp_path: Path, secret: str) -> None:
    result = compose.run(compose.env_file(tmp_path, **{secret: ""}), "config", "--quiet")
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr


def _expected(line: str, env: dict[str, str]) -> str:
    """A Procfile line with its ${VAR}s filled in, independently of shared.procfile."""
    return shlex.join(shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)))


def test_each_service_runs_the_procfile_command_make_run_runs(tmp_path: Path) -> None:
    """Every one, the witness's profile too: `ladder start NAME` is the Procfile's NAME."""
    config = compose.resolved(compose.env_file(tmp_path), *compose.profiles())
    assert {*procfile.OPTIONAL, *procfile.OPTIONAL.values()} <= set(config["services"])
    lines = procfile.parse(compose.PROCFILE)
    for name, service in compose.ladder_services(config).items():
        # What the container has: the image's ENV, then the service's environment.
        env = {"PATH": os.environ["PATH"], **compose.image_env(), **service["environment"]}
        env = {k: str(v) for k, v in env.items()}
        printed = subprocess.run(
            [str(Path(sys.executable).parent / "ladder"), "start", "--print", name,
             "--procfile", str(compose.PROCFILE)],
            capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout.strip()
        # The same defaults `make run` applies where the container sets nothing.
        filled = {**procfile.PROCESS_DEFAULTS, **env}
        assert printed == _expected(lines[name], filled), name
        if "--bind" in printed:
            assert f"--bind 0.0.0.0:{filled[name.upper() + '_PORT']}" in printed


def test_the_container_tests_override_gives_every_service_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make compose-test` starts, resolved here without an engine: each Ladder service
    reads a database URL it accepts, on the test's own PostgreSQL port (a URL rendered
    with its braces escaped stopped every container at `migrate`)."""
    # docker-compose config reads files only; a socket nobody listens on proves it.
    monkeypatch.setenv("LADDER_TEST_DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    deployment = Deployment.on_free_ports(tmp_path)
    merged = yaml.safe_load(deployment.resolved_path.read_text())
    for name, service in compose.ladder_services(merged).items():
        env = {k: str(v) for k, v in service["environment"].items()}
        for each in (*SERVICES, "witness"):
            url = make_url(database_url(each, env))
            assert (url.host, url.port, url.database) == (
                "127.0.0.1", deployment.ports["postgres"], f"ladder_{each}"), (name, each)
