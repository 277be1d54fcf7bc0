"""The Procfile is the one list of processes that `make run` and docker-compose start."""

from __future__ import annotations

import configparser
import shlex
import socket
from pathlib import Path

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
    names = [name for name in procfile.parse(ROOT / "Procfile") if name != procfile.RELEASE]
    # One group: a stop signals every process at once.
    assert config["group:ladder"]["programs"].split(",") == names
    assert not config.has_section(f"program:{procfile.RELEASE}")
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
