"""docker-compose.yml, read as written: what an organisation deploys is the real thing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from shared import areas, procfile
from shared.config import (
    DEFAULT_PORTS,
    DOMAIN_SERVICES,
    NEEDED_SECRETS,
    SERVICES,
    STOP_MARGIN,
    database_url,
)
from shared.scrub import POSTGRES_SETTINGS
from tests.support import compose

CONFIG = compose.raw()
SERVICES_ = CONFIG["services"]
LADDER = compose.ladder_services(CONFIG)
LONG_RUNNING = {name: s for name, s in SERVICES_.items() if not procfile.is_release(name)}
RELEASES = procfile.release_steps(procfile.OPTIONAL)
# The optional processes that serve HTTP: the witness, not its monitor.
OPTIONAL_WEB = [name for name in procfile.OPTIONAL if name in DEFAULT_PORTS]


def _default(name: str) -> str:
    return compose.example()[name]


def test_every_service_has_a_health_check_and_a_restart_policy() -> None:
    for name, service in LONG_RUNNING.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") in ("unless-stopped", "always"), name
    # A release step runs once: it must not restart, and its health is its exit status.
    for name in RELEASES:
        assert SERVICES_[name]["restart"] == "no", name
        assert "healthcheck" not in SERVICES_[name], name


def test_every_ladder_service_waits_for_healthy_dependencies_and_the_migrations() -> None:
    """Each waits for its release step: the witness and its monitor for theirs, every other
    for migrate."""
    for name in RELEASES:
        assert SERVICES_[name]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, service in LADDER.items():
        if procfile.is_release(name):
            continue
        assert service["depends_on"] == {
            procfile.OPTIONAL.get(name, procfile.RELEASE): {
                "condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"}}, name


def test_the_services_are_the_procfile_processes_and_run_its_commands() -> None:
    """Each runs `ladder start NAME`: the Procfile's line NAME, as `make run` runs it."""
    processes = procfile.parse(compose.PROCFILE)
    assert set(LADDER) == set(processes)
    for name, service in LADDER.items():
        assert service["command"] == ["ladder", "start", name]
        assert service["image"] == "ladder:latest" and service["build"] == "."
    assert set(SERVICES_) - set(LADDER) == {"postgres", "redis"}


def test_only_the_witness_and_its_monitor_are_optional_and_start_with_their_profile() -> None:
    """`docker compose up` starts every process but the witness's, which an independent body
    runs: the witness, its monitor and their release step start only with the `witness`
    profile."""
    assert procfile.OPTIONAL == {"witness": "witness-migrate",
                                 "witness-monitor": "witness-migrate"}
    profiled = {name: s["profiles"] for name, s in SERVICES_.items() if "profiles" in s}
    assert profiled == {"witness": ["witness"], "witness-migrate": ["witness"],
                        "witness-monitor": ["witness"]}
    assert set(compose.started(CONFIG)["services"]) == set(SERVICES_) - set(profiled)
    processes = procfile.parse(compose.PROCFILE)
    assert processes["witness"].endswith(" services.witness:create_app()")
    assert processes["witness-monitor"] == "ladder witness-monitor"
    # The monitor uses the witness's database and settings: the same environment.
    assert SERVICES_["witness-monitor"]["environment"] == SERVICES_["witness"]["environment"]


def test_web_services_check_readiness_and_the_others_their_heartbeat() -> None:
    for name, service in LONG_RUNNING.items():
        if name in LADDER:
            assert service["healthcheck"]["test"] == ["CMD", "ladder", "health", name]
    timing = SERVICES_["ledger"]["healthcheck"]
    assert timing["interval"] == "10s" and timing["retries"] >= 3


def test_every_variable_it_uses_is_in_env_example_with_the_same_default() -> None:
    # An area's port is declared with the area, in shared/areas.py, as .env.example says.
    declared = {**{f"{entry.name.upper()}_PORT": str(entry.port) for entry in areas.AREAS},
                **compose.example()}
    for name, operator, argument in compose.variables():
        assert name in declared, f"docker-compose.yml uses ${{{name}}}; .env.example lacks it"
        if operator == ":-" and declared[name]:
            assert argument == declared[name], f"{name}: {argument!r} != {declared[name]!r}"


def test_no_secret_has_a_usable_default() -> None:
    uses = [(name, op) for name, op, _ in compose.variables() if name in compose.SECRETS]
    assert {name for name, _ in uses} == set(compose.SECRETS)
    assert all(op == ":?" for _, op in uses), uses
    for secret in compose.SECRETS:
        # Copying .env.example as it is gives docker-compose nothing to start with.
        assert _default(secret) == "", secret
    text = compose.COMPOSE_FILE.read_text()
    assert not re.search(r"(PEPPER|KEY|PASSWORD):\s+[^$\s{]", text), "a secret written inline"


def test_each_process_holds_only_the_secrets_it_needs() -> None:
    def secrets(service: dict[str, Any]) -> set[str]:
        return {key for key in service["environment"] if key.startswith("LADDER_")
                and key in ("LADDER_TOKEN_PEPPER", "LADDER_PSEUDONYM_KEY", "LADDER_SIGNING_KEY",
                            "LADDER_SESSION_SECRET", "LADDER_DISCLOSURE_KEY",
                            "LADDER_WITNESS_KEY")}

    for name in DOMAIN_SERVICES:
        assert secrets(SERVICES_[name]) == set(NEEDED_SECRETS[name])
    assert secrets(SERVICES_["ledger"]) == {"LADDER_TOKEN_PEPPER", "LADDER_SIGNING_KEY",
                                            "LADDER_SESSION_SECRET", "LADDER_DISCLOSURE_KEY"}
    assert secrets(SERVICES_["ledger-worker"]) == secrets(SERVICES_["ledger"])
    assert secrets(SERVICES_["webhook-worker"]) == secrets(SERVICES_["ledger"])
    assert secrets(SERVICES_["relay"]) == set()
    # The release step checks every service's settings, so it holds them all.
    assert secrets(SERVICES_[procfile.RELEASE]) == {
        "LADDER_TOKEN_PEPPER", "LADDER_PSEUDONYM_KEY", "LADDER_SIGNING_KEY",
        "LADDER_SESSION_SECRET", "LADDER_DISCLOSURE_KEY"}
    # The witness's processes hold its key and no other; nothing else holds it.
    holders = {name for name, service in LADDER.items() if "LADDER_WITNESS_KEY" in secrets(service)}
    assert holders == {*procfile.OPTIONAL, *procfile.OPTIONAL.values()}
    for name in holders:
        assert secrets(SERVICES_[name]) == {"LADDER_WITNESS_KEY"}, name
    for name, service in LADDER.items():
        assert service["environment"]["LADDER_ENV"] == "production", name


def test_a_stop_waits_out_celerys_soft_shutdown() -> None:
    grace = float(_default("LADDER_STOP_GRACE_PERIOD"))
    soft = float(_default("LADDER_SOFT_SHUTDOWN_TIMEOUT"))
    assert grace >= soft + STOP_MARGIN
    for name, service in LADDER.items():
        assert service["stop_grace_period"] == "${LADDER_STOP_GRACE_PERIOD:-30}s", name
        assert service["environment"]["LADDER_STOP_GRACE_PERIOD"] == (
            "${LADDER_STOP_GRACE_PERIOD:-30}"), name
        assert service["init"] is True, name


def test_redis_keeps_what_it_acknowledged_and_never_evicts() -> None:
    redis = SERVICES_["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_postgres_lets_an_erasure_scrub_the_wal() -> None:
    command = SERVICES_["postgres"]["command"]
    assert command[0] == "postgres"
    given = dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-c")
    assert given == {name: wanted for name, (wanted, _) in POSTGRES_SETTINGS.items()}


def _database(service: str, on: str) -> str:
    """The database ``service`` uses with compose service ``on``'s environment."""
    env = {key: str(value) for key, value in SERVICES_[on]["environment"].items()}
    return database_url(service, env)


def test_postgres_has_a_named_volume_and_each_service_its_database_by_one_convention() -> None:
    postgres = SERVICES_["postgres"]
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "postgres-data" in CONFIG["volumes"]
    for name, service in LADDER.items():
        assert not [key for key in service["environment"] if key.endswith("_DATABASE_URL")], (
            f"{name}: every service's database follows LADDER_DATABASE_URL_TEMPLATE")
    urls = {service: _database(service, "relay") for service in SERVICES}
    assert {url.rsplit("/", 1)[1] for url in urls.values()} == {f"ladder_{s}" for s in SERVICES}
    assert all("@postgres:5432/" in url for url in urls.values())
    # The witness's own database, on the same server, which its release step makes and its
    # monitor uses too.
    assert _database("witness", "witness") == _database("witness", "witness-migrate") == (
        _database("witness", "witness-monitor")) == (
        urls["ledger"].replace("/ladder_ledger", "/ladder_witness"))
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_every_area_is_in_the_procfile_compose_and_the_database_setup() -> None:
    """Each area of shared/areas.py runs as its own process and compose service, on its own
    database, which the release step (migrate) creates: any that is missing is named."""
    processes = procfile.parse(compose.PROCFILE)
    missing = {
        "the Procfile": [a for a in areas.names() if a not in processes],
        "docker-compose.yml": [
            e.name for e in areas.AREAS if SERVICES_.get(e.name, {}).get("ports") != [
                f"${{LADDER_BIND:-127.0.0.1}}:${{{e.name.upper()}_PORT:-{e.port}}}:{e.port}"]
            or SERVICES_[e.name]["command"] != ["ladder", "start", e.name]],
        # What the release step creates and migrates, and what the area's service uses.
        "the database setup": [
            a for a in areas.names() if not _database(a, "migrate").endswith(f"/ladder_{a}")
            or a in SERVICES_ and _database(a, a) != _database(a, "migrate")],
    }
    assert not any(missing.values()), {where: names for where, names in missing.items()
                                       if names}


def test_the_ledger_and_its_worker_share_the_metrics_directory() -> None:
    volume = "ledger-metrics:/app/var/metrics"
    assert volume in SERVICES_["ledger"]["volumes"]
    assert volume in SERVICES_["ledger-worker"]["volumes"]
    assert compose.image_env()["LADDER_VAR_DIR"] == "/app/var"


@pytest.mark.parametrize("service", [*SERVICES, *OPTIONAL_WEB])
def test_web_services_publish_their_port_on_ladder_bind_only(service: str) -> None:
    port = DEFAULT_PORTS[service]
    assert SERVICES_[service]["ports"] == [
        f"${{LADDER_BIND:-127.0.0.1}}:${{{service.upper()}_PORT:-{port}}}:{port}"]
    assert _default("LADDER_BIND") == "127.0.0.1"


def test_nothing_else_publishes_a_port() -> None:
    assert {name for name, s in SERVICES_.items() if "ports" in s} == {*SERVICES, *OPTIONAL_WEB}


def test_the_image_is_multi_stage_slim_installs_once_and_runs_as_a_user() -> None:
    text = compose.DOCKERFILE.read_text()
    # A base given as a build ARG counts as its default (`make compose-test` gives another).
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)", text.split("\nFROM ")[0], re.MULTILINE))
    stages = [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], s)
              for s in re.findall(r"^FROM (\S+)", text, re.MULTILINE)]
    assert len(stages) == 2 and all(s.endswith("-slim") for s in stages)
    # One install step: the lock, then the package on its own.
    steps = text.replace("\\\n", " ")  # an instruction continued over several lines, as one
    assert len(re.findall(r"^RUN .*pip install", steps, re.MULTILINE)) == 1
    assert "--require-hashes --no-deps -r requirements-runtime.lock" in text
    assert "COPY --from=build /opt/ladder /opt/ladder" in text
    final = text.split("\nFROM ")[-1]
    user = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert compose.image_env()["LADDER_BIND"] == "0.0.0.0"


def _pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.MULTILINE))


def test_the_images_lock_pins_what_the_tests_ran_without_the_dev_tools() -> None:
    full = _pins(compose.ROOT / "requirements.lock")
    runtime = _pins(compose.ROOT / "requirements-runtime.lock")
    assert runtime and {name: full.get(name) for name in runtime} == runtime
    assert not {"pytest", "hypothesis", "schemathesis", "playwright", "mypy", "ruff"} & set(runtime)
