"""docker-compose.yml as written, and as docker-compose itself resolves it.

No Docker engine is needed: ``docker-compose config`` parses, validates and
interpolates the file. It comes from Debian's ``docker-compose`` package (or
Docker Compose v2, ``docker compose``); `.ci/run` installs it where missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
PROCFILE = ROOT / "Procfile"
DOCKERFILE = ROOT / "Dockerfile"

# What an organisation puts in .env; long enough for production, test-only values.
TEST_SECRETS = {
    "POSTGRES_PASSWORD": "e2etestpassword0123456789",
    "LADDER_TOKEN_PEPPER": "e2e-test-pepper-0123456789abcdefghijklmnop",
    "LADDER_PSEUDONYM_KEY": "e2e-test-pseudonym-key-0123456789abcdefghij",
    "LADDER_SIGNING_KEY": "n2p6Rr1cH0m5mP2vXjY3x8Kq9T0wL4sB7dF1gH2jK3c=",
    "LADDER_SESSION_SECRET": "e2e-test-session-secret-0123456789abcdefgh",
    "LADDER_DISCLOSURE_KEY": "e2e-test-disclosure-key-0123456789abcdefgh",
}
SECRETS = tuple(TEST_SECRETS)

INSTALL_HINT = (
    "docker-compose is needed to check docker-compose.yml (no Docker engine is needed): "
    "install Debian's package with `sudo apt-get install docker-compose`, or Docker "
    "Compose v2 (`docker compose`)")

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def binary() -> list[str]:
    """The docker-compose command here; fails saying what to install if there is none."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    raise AssertionError(INSTALL_HINT)


def raw() -> dict[str, Any]:
    """The file as written, anchors merged, nothing interpolated."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def variables() -> list[tuple[str, str, str]]:
    """Every ${...} the file uses, comments aside: (name, operator, default or message)."""
    text = "\n".join(line for line in COMPOSE_FILE.read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    return [(m.group(1), m.group(2) or "", m.group(3) or "") for m in VARIABLE.finditer(text)]


def example() -> dict[str, str]:
    """.env.example's settings and their defaults."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def env_file(directory: Path, **changes: str) -> Path:
    """.env.example with the test secrets filled in, as an organisation's .env."""
    values = {**example(), **TEST_SECRETS, **changes}
    path = directory / "compose.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items() if v is not None))
    return path


def run(env_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """docker-compose with only ``env_path`` for its variables (not the caller's .env)."""
    return subprocess.run(
        [*binary(), "--project-directory", str(ROOT), "--file", str(COMPOSE_FILE),
         "--env-file", str(env_path), *args],
        capture_output=True, text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")},
        timeout=120)


def profiles() -> list[str]:
    """Every profile a service of the file names: what `docker compose --profile` adds."""
    return sorted({p for service in raw()["services"].values()
                   for p in service.get("profiles", [])})


def resolved(env_path: Path, *profiles: str) -> dict[str, Any]:
    """The file as docker-compose resolves it: merged, interpolated, validated; with the
    services of ``profiles`` (Compose v2 leaves out the others', docker-compose 1.29 not)."""
    result = run(env_path, *(arg for name in profiles for arg in ("--profile", name)), "config")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def image_env() -> dict[str, str]:
    """The ENV the Dockerfile's final stage sets (its PATH aside)."""
    final = DOCKERFILE.read_text().split("\nFROM ")[-1]
    values: dict[str, str] = {}
    for block in re.findall(r"^ENV (.+?)(?<!\\)$", final, re.MULTILINE | re.DOTALL):
        for key, value in re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")):
            values[key] = value
    values.pop("PATH", None)
    return values


def started(config: dict[str, Any], *profiles: str) -> dict[str, Any]:
    """``config`` with only the services `docker compose up` starts: those of no profile,
    and those of ``profiles``."""
    return {**config, "services": {
        name: service for name, service in config["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)}}


def ladder_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run a Ladder process (`ladder start NAME`)."""
    return {name: service for name, service in config["services"].items()
            if list(service.get("command") or [])[:2] == ["ladder", "start"]}
