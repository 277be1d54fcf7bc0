"""The commands a deployment runs: migrate first, start a process, check its health."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from shared import areas, heartbeat
from shared.config import SERVICES, load
from shared.embedded_redis import free_port
from tests.support.compose import PROCFILE, TEST_SECRETS

LADDER = str(Path(sys.executable).parent / "ladder")


def _ladder(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LADDER, *args], capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={"PATH": os.environ["PATH"], "LADDER_VAR_DIR": str(tmp_path / "var"), **env})


def test_migrate_refuses_a_default_secret_in_production_and_writes_nothing(
    tmp_path: Path,
) -> None:
    production = {"LADDER_ENV": "production", **TEST_SECRETS}
    production.pop("POSTGRES_PASSWORD")
    default = load("recruitment", {})["TOKEN_PEPPER"]
    result = _ladder(tmp_path, "migrate", **{**production, "LADDER_TOKEN_PEPPER": default})
    assert result.returncode == 1
    assert "LADDER_TOKEN_PEPPER must be set to a secret value in production" in result.stderr
    assert not (tmp_path / "var").exists()
    # With every secret set, the same command migrates every service.
    result = _ladder(tmp_path, "migrate", **production)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "var").glob("*.db")} == {f"{s}.db" for s in SERVICES}


def test_the_areas_are_listed_for_scripts_one_a_line(tmp_path: Path) -> None:
    result = _ladder(tmp_path, "areas")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == list(areas.names())


def test_a_process_without_a_fresh_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    args = ("health", "relay", "--procfile", str(PROCFILE))
    result = _ladder(tmp_path, *args)
    assert result.returncode == 1 and "relay: no heartbeat" in result.stderr
    beat = heartbeat.path("relay", {"LADDER_VAR_DIR": str(tmp_path / "var")})
    heartbeat.beat(beat)
    result = _ladder(tmp_path, *args)
    assert result.returncode == 0 and "relay: heartbeat" in result.stdout
    result = _ladder(tmp_path, *args, "--max-age", "0")
    assert result.returncode == 1
    # Without --max-age, a beat is fresh for heartbeat.MAX_AGE seconds.
    for age, healthy in ((heartbeat.MAX_AGE - 5, True), (heartbeat.MAX_AGE + 5, False)):
        os.utime(beat, (time.time() - age, time.time() - age))
        result = _ladder(tmp_path, *args)
        assert (result.returncode == 0) is healthy, result.stderr


def test_a_health_check_loads_neither_flask_nor_sqlalchemy(tmp_path: Path) -> None:
    """docker-compose runs `ladder health` in every container every 10 s: it costs what
    its imports cost (0.7 CPU-seconds with Flask and SQLAlchemy, 0.3 without), which on
    a two-core host running every container is a fifth of the machine."""
    check = ("import sys; from services.cli import main\n"
             "try:\n    main(['health', 'relay', '--procfile', sys.argv[1]])\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in ('flask', 'sqlalchemy', 'celery') if m in sys.modules))")
    result = subprocess.run(
        [sys.executable, "-c", check, str(PROCFILE)], capture_output=True, text=True,
        cwd=tmp_path, timeout=60, env={"PATH": os.environ["PATH"],
                                       "PYTHONPATH": str(Path(__file__).parents[2]),
                                       "LADDER_VAR_DIR": str(tmp_path / "var")})
    assert "relay: no heartbeat" in result.stderr, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_a_web_service_that_does_not_answer_is_unhealthy(tmp_path: Path) -> None:
    port = str(free_port())
    result = _ladder(tmp_path, "health", "training", "--procfile", str(PROCFILE),
                     TRAINING_PORT=port)
    assert result.returncode == 1
    assert f"training: http://127.0.0.1:{port}/readyz does not answer 200" in result.stderr


def test_start_names_the_processes_it_knows(tmp_path: Path) -> None:
    result = _ladder(tmp_path, "start", "nope", "--procfile", str(PROCFILE))
    assert result.returncode == 2
    assert "the Procfile has no process 'nope'" in result.stderr
    printed = _ladder(tmp_path, "start", "--print", "relay", "--procfile", str(PROCFILE))
    assert printed.stdout.strip() == "ladder relay"


def test_a_dotenv_file_in_the_working_directory_fills_in_what_the_environment_lacks(
        tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LADDER_BIND=127.0.0.9\nLEDGER_PORT=9100\n")
    printed = _ladder(tmp_path, "start", "--print", "ledger", "--procfile", str(PROCFILE),
                      LEDGER_PORT="9200")
    assert printed.returncode == 0, printed.stderr
    argv = printed.stdout.split()
    assert argv[argv.index("--bind") + 1] == "127.0.0.9:9200"


def test_the_command_line_refuses_text_it_could_not_store(tmp_path: Path) -> None:
    assert _ladder(tmp_path, "migrate", "recruitment").returncode == 0
    env = {"PATH": os.environ["PATH"], "LADDER_VAR_DIR": str(tmp_path / "var")}
    # Bytes that are not UTF-8 reach Python as lone surrogates; NUL cannot be an argument.
    for args in ([b"token", b"create", b"recruitment", b"--name", b"hr-\xff", b"--scope",
                  b"read"],
                 [b"integration", b"create", b"recruitment", b"hr-\xed\xa0\x80"],
                 [b"integration", b"create", b"recruitment", b"hr system/../x"]):
        result = subprocess.run([LADDER.encode(), *args], capture_output=True, cwd=tmp_path,
                                timeout=60, env=env)
        assert result.returncode == 2, result.stderr
        assert b"Traceback" not in result.stderr
        assert b"Invalid value" in result.stderr
    with sqlite3.connect(tmp_path / "var" / "recruitment.db") as db:
        assert db.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM integrations").fetchone() == (0,)


def test_a_refusal_is_one_line_and_exit_1_and_lists_show_what_there_is(
        tmp_path: Path) -> None:
    """A use case's refusal (a name taken, nothing of that name) is one line on standard
    error with exit status 1, never a traceback; tokens and integrations can be listed
    and revoked; --version and -h answer."""
    assert _ladder(tmp_path, "migrate", "recruitment").returncode == 0
    made = _ladder(tmp_path, "integration", "create", "recruitment", "hr-system")
    assert made.returncode == 0 and made.stdout.startswith("secret: whsec_")
    again = _ladder(tmp_path, "integration", "create", "recruitment", "hr-system")
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == ("Error: Integration hr-system already exists; rotate its secret "
                            "instead.\n")
    listed = _ladder(tmp_path, "integration", "list", "recruitment")
    assert listed.returncode == 0 and listed.stdout.split()[:2] == ["hr-system", "made"]
    assert "whsec_" not in listed.stdout
    assert _ladder(tmp_path, "integration", "revoke", "recruitment", "hr-system").returncode == 0
    gone = _ladder(tmp_path, "integration", "revoke", "recruitment", "hr-system")
    assert (gone.returncode, gone.stderr) == (1, "Error: No integration hr-system.\n")
    assert _ladder(tmp_path, "integration", "list", "recruitment").stdout == ""
    token = _ladder(tmp_path, "token", "create", "recruitment", "--name", "hr", "--scope",
                    "write").stdout.strip()
    assert _ladder(tmp_path, "token", "revoke", "recruitment", "--name", "hr").returncode == 0
    tokens = _ladder(tmp_path, "token", "list", "recruitment").stdout.splitlines()
    assert len(tokens) == 1 and tokens[0].split()[1:3] == ["hr", "recruitment:write"]
    assert "revoked" in tokens[0] and token not in tokens[0]
    version = _ladder(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("ladder, version ")
    short = _ladder(tmp_path, "-h")
    assert short.returncode == 0 and short.stdout == _ladder(tmp_path, "--help").stdout
    wrong = _ladder(tmp_path, "integration", "frobnicate")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
