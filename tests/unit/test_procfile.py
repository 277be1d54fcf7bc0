"""The Procfile is the one list of processes that `make run` and docker-compose start."""

from __future__ import annotations

import configparser
import os
import shlex
import socket
from pathlib import Path

import click
import pytest

from shared import areas, procfile, supervision
from shared.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_service_worker_and_relay_is_listed_after_the_release_step() -> None:
    names = list(procfile.parse(ROOT / "Procfile"))
    assert names[0] == procfile.RELEASE == "migrate"
    assert set(names[1:]) >= {"ledger", *areas.names(), "ledger-worker", "webhook-worker",
                              "relay"}


def test_the_area_line_is_one_process_per_area_of_the_registry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(areas, "AREAS", (*areas.AREAS, areas.Entry("fifth", 8099,
                                                                   package="elsewhere.fifth")))
    processes = procfile.parse(ROOT / "Procfile")
    assert [name for name in processes if name in areas.names()] == list(areas.names())
    assert "{area}" not in processes
    argv = procfile.expand(processes["fifth"], procfile.environment({"FIFTH_PORT": "9005"}))
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:9005"
    assert argv[-1] == "elsewhere.fifth:create_app()"


def test_commands_expand_from_the_environment_with_defaults() -> None:
    env = procfile.environment({"RECRUITMENT_PORT": "9001"})
    argv = procfile.expand(procfile.parse(ROOT / "Procfile")["recruitment"], env)
    assert argv[0] == "gunicorn"
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:9001"
    assert argv[-1] == "services.recruitment:create_app()"


def test_an_unset_variable_is_an_error() -> None:
    with pytest.raises(KeyError, match="NOPE"):
        procfile.expand("run ${NOPE}", {})


def test_each_process_gets_its_name_and_its_own_metrics_directory(tmp_path: Path) -> None:
    env = procfile.environment({"LADDER_METRICS_DIR": str(tmp_path)})
    argv, own = procfile.command(ROOT / "Procfile", "ledger-worker", env)
    assert argv[0] == "celery"
    assert own["LADDER_PROCESS"] == "ledger-worker"
    assert own["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / socket.gethostname()
                                                  / "ledger-worker")
    # Celery's SIGTERM starts its soft shutdown, bounded by LADDER_SOFT_SHUTDOWN_TIMEOUT.
    assert own["REMAP_SIGTERM"] == "SIGQUIT"


def test_an_unknown_process_is_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="no process 'nope'"):
        procfile.command(ROOT / "Procfile", "nope", procfile.environment({}))


def test_make_run_has_supervisord_run_each_process_as_docker_compose_does(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    path = supervision.write_config(tmp_path / "run" / "supervisord.conf", ROOT / "Procfile",
                                    logs, 17.0)
    config = configparser.ConfigParser()
    config.read(path)
    names = [name for name in procfile.parse(ROOT / "Procfile")
             if name not in (procfile.RELEASE, "witness-migrate", "witness", "witness-monitor")]
    # One group: a stop signals every process at once.
    assert config["group:ladder"]["programs"].split(",") == names
    assert not config.has_section(f"program:{procfile.RELEASE}")
    assert not config.has_section("program:witness")
    assert not config.has_section("program:witness-monitor")
    for name in names:
        program = config[f"program:{name}"]
        assert shlex.split(program["command"])[1:] == [
            "start", name, "--procfile", str(ROOT / "Procfile")]
        assert program["stdout_logfile"] == str(logs / f"{name}.log")
        assert (program["stopwaitsecs"], program["stopasgroup"]) == ("17", "true")
        # The listener restarts it, once it has read how it ended.
        assert program["autorestart"] == "false"
    listener = config["eventlistener:restarts"]
    assert shlex.split(listener["command"])[1:] == ["-m", "shared.supervision", str(logs)]
    assert "PROCESS_STATE_EXITED" in listener["events"].split(",")
    assert config["unix_http_server"]["file"] == str(tmp_path / "run" / "supervisor.sock")
    # supervisord would read a % as the start of an expansion.
    with pytest.raises(ConfigError, match="supervisord cannot take a path with '%'"):
        supervision.write_config(tmp_path / "run" / "supervisord.conf", ROOT / "Procfile",
                                 tmp_path / "100% logs", 17.0)
    # The optional processes asked for run with the others; their release step never does.
    supervision.write_config(path, ROOT / "Procfile", logs, 17.0,
                             optional=["witness", "witness-monitor"])
    config.read(path)
    assert config["group:ladder"]["programs"].split(",") == [*names, "witness", "witness-monitor"]
    assert not config.has_section("program:witness-migrate")


def test_the_witness_and_its_monitor_are_optional_and_share_a_release_step() -> None:
    """A deployment of Ladder runs no witness unless asked (`make run` asks, in
    development): the e2e stacks and `ladder run` in production start none. The monitor
    uses the witness's database, so the witness's release step is its own too."""
    processes = procfile.parse(ROOT / "Procfile")
    assert procfile.OPTIONAL == {"witness": "witness-migrate",
                                 "witness-monitor": "witness-migrate"}
    assert processes["witness-migrate"] == "ladder migrate witness"
    assert processes["witness"].endswith(" services.witness:create_app()")
    assert processes["witness-monitor"] == "ladder witness-monitor"
    assert [procfile.is_release(name) for name in (
        "migrate", "witness-migrate", "witness", "witness-monitor")] == [True, True, False, False]
    everyday = procfile.long_running(ROOT / "Procfile")
    assert not {"witness", "witness-monitor"} & set(everyday)
    assert procfile.long_running(ROOT / "Procfile", ["witness"]) == [*everyday, "witness"]
    assert procfile.long_running(ROOT / "Procfile", ["witness-monitor", "witness"]) == [
        *everyday, "witness", "witness-monitor"]
    argv = procfile.expand(processes["witness"], procfile.environment({}))
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8010"


def test_a_release_step_two_optional_processes_share_runs_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ladder run` runs `migrate`, then `witness-migrate` once for the witness and its
    monitor, before supervisord starts anything."""
    from services.cli import run

    assert procfile.release_steps() == ["migrate"]
    assert procfile.release_steps(["witness-monitor", "witness"]) == [
        "migrate", "witness-migrate"]
    ran: list[str] = []

    def release(path: Path, env: dict[str, str], log_dir: Path, name: str) -> int:
        ran.append(name)
        return 0

    def write_config(*_: object, **__: object) -> Path:
        raise ConfigError("supervisord is not started here")

    monkeypatch.setattr(procfile, "release", release)
    monkeypatch.setattr(supervision, "write_config", write_config)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # _supervise exports its env
    env = procfile.environment({"LADDER_VAR_DIR": str(tmp_path)})
    with pytest.raises(click.ClickException, match="supervisord is not started here"):
        run._supervise(ROOT / "Procfile", env, 30.0, {"witness": "", "witness-monitor": ""})
    assert ran == ["migrate", "witness-migrate"]


def test_make_run_wires_a_development_witness_and_keeps_what_is_set(tmp_path: Path) -> None:
    """The witness follows the ledger's verifier key and the ledger asks the witness, both
    from the keys made for development; a setting given is kept; production wires none."""
    from services import witness
    from services.cli import run
    from services.ledger.signing import load_signer
    from shared.config import load

    env = procfile.environment({"LADDER_VAR_DIR": str(tmp_path), "WITNESS_PORT": "9010",
                                "LEDGER_PORT": "9000"})
    started = run.development_witness(env)
    assert started.keys() == {"witness", "witness-monitor"}
    _, _, witness_vkey = witness.identity(load("witness", env))
    assert env["LADDER_WITNESSES"] == f"http://127.0.0.1:9010 {witness_vkey}"
    # The monitor fetches the development ledger's releases, from its URL after its key.
    ledger_vkey = load_signer(load("ledger", env)).vkey()
    assert env["LADDER_WITNESS_LOGS"] == f"{ledger_vkey} http://127.0.0.1:9000"
    assert load("ledger", env)["WITNESSES"][0][1].text == witness_vkey
    assert started["witness-monitor"] == ("witness-monitor  runs: fetches the published "
                                          "releases of http://127.0.0.1:9000 every 300 s")

    given = {"LADDER_WITNESSES": f"https://witness.example.org {witness_vkey}",
             "LADDER_WITNESS_LOGS": f"{ledger_vkey} https://ledger.example.org"}
    kept = procfile.environment({"LADDER_VAR_DIR": str(tmp_path), **given})
    assert run.development_witness(kept).keys() == {"witness", "witness-monitor"}
    assert {key: kept[key] for key in given} == given
    # A ledger given without its URL: nothing for a monitor to fetch, so none starts.
    unmonitored = procfile.environment({"LADDER_VAR_DIR": str(tmp_path),
                                        "LADDER_WITNESS_LOGS": ledger_vkey})
    assert run.development_witness(unmonitored).keys() == {"witness"}
    assert unmonitored["LADDER_WITNESS_LOGS"] == ledger_vkey

    production = procfile.environment({"LADDER_VAR_DIR": str(tmp_path / "prod"),
                                       "LADDER_ENV": "production"})
    assert run.development_witness(production) == {}
    assert not {"LADDER_WITNESSES", "LADDER_WITNESS_LOGS"} & set(production)
    assert not (tmp_path / "prod").exists()
