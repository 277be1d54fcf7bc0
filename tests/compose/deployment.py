"""docker-compose.yml run by docker-compose itself, on the engine `make compose-test` started.

The test override (``override``) changes only what this machine cannot give as a normal
Docker host does: the network is the host's loopback (``network_mode: host``, each
service on a free 127.0.0.1 port, so PostgreSQL and Redis are reached at 127.0.0.1), and
postgres and redis are images built here from Debian's packages. Images, commands,
health checks, volumes, restart policies, dependencies and grace periods are
docker-compose.yml's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from shared import procfile
from shared.config import SERVICES
from shared.embedded_redis import free_port
from tests.support import compose
from tests.support.databases import url_template

PROJECT = "ladder-compose-test"
TEST_IMAGES = {"postgres": "ladder-test/postgres", "redis": "ladder-test/redis"}


def docker_env() -> dict[str, str]:
    """Only the test's engine: its socket, never the caller's DOCKER_HOST or context."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
            "DOCKER_HOST": os.environ["LADDER_TEST_DOCKER_HOST"]}


def docker(*args: str, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True,
                            env=docker_env(), timeout=timeout)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
    return result.stdout


def instant(stamp: str) -> datetime:
    """Docker's RFC 3339 time, nanoseconds cut to microseconds."""
    head, _, rest = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(rest + '000000')[:6]}+00:00")


@dataclass
class Deployment:
    directory: Path
    ports: dict[str, int]
    env_path: Path = field(init=False)
    override_path: Path = field(init=False)
    resolved_path: Path = field(init=False)
    config: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.env_path = compose.env_file(
            self.directory,
            LADDER_BIND="127.0.0.1",
            # Webhooks out reach the test's receiver on this machine's loopback.
            LADDER_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
            # A batch a killed worker held goes back to the queue after this long.
            LADDER_VISIBILITY_TIMEOUT="20",
            # And the relay publishes again, after this long, a row the ledger still lacks
            # (with the default 600 s, 3 accepted involvements were still missing 180 s
            # after a SIGKILL of the ledger worker, in one run of three).
            LADDER_REPUBLISH_AFTER="30",
            **{f"{s.upper()}_PORT": str(self.ports[s]) for s in SERVICES})
        resolved = compose.resolved(self.env_path)
        # What `up -d` starts: with no profile, no witness.
        self.config = compose.started(resolved)
        self.override_path = self.directory / "docker-compose.test.yml"
        self.override_path.write_text(yaml.safe_dump(override(resolved, self.ports)))
        # docker-compose merges the two files; then only the published ports go, which host
        # networking has no use for (and docker-compose refuses beside it), and which an
        # override cannot take away.
        merged = yaml.safe_load(self.ok_files("config", files=(
            compose.COMPOSE_FILE, self.override_path)))
        for service in merged["services"].values():
            service.pop("ports", None)
        self.resolved_path = self.directory / "docker-compose.resolved.yml"
        self.resolved_path.write_text(yaml.safe_dump(merged))

    @classmethod
    def on_free_ports(cls, directory: Path) -> Deployment:
        return cls(directory, {name: free_port() for name in ("postgres", "redis", *SERVICES)})

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def compose(self, *args: str, timeout: float = 300,
                files: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
        chosen = [arg for path in files or (self.resolved_path,) for arg in ("--file", str(path))]
        return subprocess.run(
            ["docker-compose", "--project-name", PROJECT, "--project-directory",
             str(compose.ROOT), *chosen, "--env-file", str(self.env_path), *args],
            capture_output=True, text=True, env=docker_env(), timeout=timeout)

    def ok_files(self, *args: str, timeout: float = 300, files: tuple[Path, ...] = ()) -> str:
        result = self.compose(*args, timeout=timeout, files=files)
        if result.returncode != 0:
            # What the containers said, which is usually why: the engine is gone after.
            logs = self.compose("logs", "--no-color", "--tail", "40", timeout=60, files=files)
            raise AssertionError(f"docker-compose {' '.join(args)}: {result.stderr}\n"
                                 f"the containers' last log lines:\n{logs.stdout[-8000:]}")
        return result.stdout

    def ok(self, *args: str, timeout: float = 300) -> str:
        return self.ok_files(*args, timeout=timeout)

    def exec(self, service: str, *argv: str) -> str:
        """`docker-compose exec -T SERVICE ARGV`: its output, which must succeed."""
        return self.ok("exec", "-T", service, *argv, timeout=120)

    def container(self, service: str) -> str:
        ids = self.ok("ps", "--all", "-q", service).split()
        assert len(ids) == 1, (service, ids)
        return ids[0]

    def inspect(self, service: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(docker("inspect", self.container(service)))
        return found[0]

    def logs(self, service: str) -> list[str]:
        result = subprocess.run(["docker", "logs", self.container(service)],
                                capture_output=True, text=True, env=docker_env(), timeout=60)
        return (result.stdout + result.stderr).splitlines()

    def logged(self, service: str) -> list[dict[str, Any]]:
        """The JSON log lines (Celery's plain-text shutdown notices aside)."""
        return [json.loads(line) for line in self.logs(service) if line.startswith("{")]

    def long_running(self) -> list[str]:
        return [name for name in self.config["services"] if name != procfile.RELEASE]

    def wait_healthy(self, timeout: float = 600) -> dict[str, float]:
        """Until compose's own health check says every service is healthy; when each was."""
        deadline, healthy = time.monotonic() + timeout, {}
        started = time.monotonic()
        while True:
            release = self.inspect(procfile.RELEASE)["State"]
            assert release["Status"] != "exited" or release["ExitCode"] == 0, (
                self.logs(procfile.RELEASE)[-20:])
            for name in self.long_running():
                if name in healthy:
                    continue
                state = self.inspect(name)["State"]
                if state.get("Health", {}).get("Status") == "healthy":
                    healthy[name] = time.monotonic() - started
            if len(healthy) == len(self.long_running()) and release["Status"] == "exited":
                return healthy
            assert time.monotonic() < deadline, f"not healthy in {timeout:g} s:\n" + "\n".join(
                self.why_not_healthy(name) for name in self.long_running() if name not in healthy)
            time.sleep(1)

    def why_not_healthy(self, service: str) -> str:
        found = self.inspect(service)
        state, health = found["State"], found["State"].get("Health", {})
        checks = [(c["ExitCode"], c["Output"].strip()[-300:]) for c in health.get("Log", [])]
        return (f"{service}: {state['Status']}, {health.get('Status')}, restarted "
                f"{found['RestartCount']} times; last checks {checks[-2:]}; last lines "
                f"{self.logs(service)[-5:]}")

    def died(self, since: float) -> list[tuple[str, int]]:
        """Each container that died since ``since`` (a Unix time): service, exit code."""
        lines = docker("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                       "--filter", "type=container", "--filter", "event=die",
                       "--format", "{{json .}}").splitlines()
        events = [json.loads(line)["Actor"]["Attributes"] for line in lines if line]
        return [(e["com.docker.compose.service"], int(e["exitCode"])) for e in events]


def override(config: dict[str, Any], ports: dict[str, int]) -> dict[str, Any]:
    """The test override for docker-compose.yml as resolved (``config``): host loopback
    networking on ``ports``, and the postgres and redis images built here."""
    services = config["services"]
    url = make_url(services[procfile.RELEASE]["environment"]["LADDER_DATABASE_URL_TEMPLATE"])
    assert (url.host, url.port) == ("postgres", 5432), url
    ladder_env = {
        "LADDER_BIND": "127.0.0.1",
        "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
        "LADDER_DATABASE_URL_TEMPLATE": url_template(
            url.set(host="127.0.0.1", port=ports["postgres"]), str(url.database)),
        **{f"{s.upper()}_PORT": str(ports[s]) for s in SERVICES},
    }
    redis_check = list(services["redis"]["healthcheck"]["test"])
    assert redis_check[:2] == ["CMD", "redis-cli"], redis_check
    changed: dict[str, Any] = {
        "postgres": {
            "image": TEST_IMAGES["postgres"],
            # PGPORT: the server's port and pg_isready's, so the health check stands as is.
            "environment": {"PGPORT": str(ports["postgres"]),
                            "POSTGRES_LISTEN_ADDRESSES": "127.0.0.1"},
        },
        "redis": {
            "image": TEST_IMAGES["redis"],
            "command": [*services["redis"]["command"], "--port", str(ports["redis"]),
                        "--bind", "127.0.0.1"],
            "healthcheck": {"test": [*redis_check[:2], "-p", str(ports["redis"]),
                                     *redis_check[2:]]},
        },
    }
    for name in compose.ladder_services(config):
        changed[name] = {"environment": dict(ladder_env)}
    for name in services:
        changed.setdefault(name, {})["network_mode"] = "host"
    return {"version": config.get("version", "3.8"), "services": changed}
