"""`ladder run` (`make run`): a process that dies is restarted, the development witness
cosigns the ledger's checkpoints and its monitor reads the ledger's releases, and a stop
leaves nothing."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
import requests
from supervisor import childutils

from shared.area.models import ApiToken
from shared.auth import create_token
from shared.config import SERVICES, database_url, load
from shared.db import Database
from shared.embedded_redis import free_port
from tests.support import c2sp
from tests.support.client import record_involvements, record_vacancy

ROOT = Path(__file__).resolve().parents[2]
LADDER = str(Path(sys.executable).parent / "ladder")


class Lines:
    """The lines a stream prints, read as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def until(self, wanted: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"not printed within {timeout} s; printed: {self.seen}")


def _serving(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _left_after(groups: set[int], timeout: float = 15) -> list[str]:
    """The members of ``groups`` still running after ``timeout``, as ps shows them.

    A process that has ended but is not yet reaped (a zombie, ``Z``) holds no port,
    file or memory, so it does not count. The ones here are orphans, reaped by init:
    supervisord waits for each program's own process, and the rest of its group (a
    gunicorn worker, Celery's pool child) ends after it, which takes a moment on a busy
    machine."""
    deadline = time.monotonic() + timeout
    while True:
        table = subprocess.run(["ps", "-e", "-o", "pgid=,pid=,stat=,args="],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        left = [row for row in table
                if int(row.split()[0]) in groups and not row.split()[2].startswith("Z")]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def _writer(env: dict[str, str]) -> dict[str, str]:
    """A recruitment token, as `ladder token create recruitment --scope write` makes one."""
    db = Database(database_url("recruitment", env))
    try:
        token = create_token(db, ApiToken, load("recruitment", env)["TOKEN_PEPPER"], "run",
                             ["recruitment:write"])
    finally:
        db.dispose()
    return {"Authorization": f"Bearer {token}"}


def _cosigned(ledger: str, witness: c2sp.Verifier, size: int, timeout: float = 60) -> str:
    """The ledger's /checkpoint, once it is of ``size`` and carries the witness's line."""
    deadline = time.monotonic() + timeout
    while True:
        note = requests.get(ledger + "/checkpoint", timeout=5).text
        body, signatures = c2sp.split_note(note)
        if c2sp.parse_checkpoint(body).size == size and any(map(witness.matches, signatures)):
            return note
        assert time.monotonic() < deadline, f"not cosigned at size {size}: {note}"
        time.sleep(0.5)


def _monitored(witness: str, timeout: float = 60) -> dict[str, Any]:
    """The witness's row of the ledger it follows, once its monitor has read the ledger's
    releases (none, here) at its last check."""
    deadline = time.monotonic() + timeout
    while True:
        rows = requests.get(witness + "/v1/figures", timeout=5).json()["rows"]
        if [row["state"] for row in rows] == ["current"]:
            return dict(rows[0])
        assert time.monotonic() < deadline, f"not monitored: {rows}"
        time.sleep(0.5)


def test_a_killed_process_is_restarted_the_witness_cosigns_and_monitors_and_a_stop_leaves_nothing(
        tmp_path: Path) -> None:
    web = (*SERVICES, "witness")
    ports = {f"{s.upper()}_PORT": str(free_port()) for s in web}
    urls = {s: f"http://127.0.0.1:{ports[s.upper() + '_PORT']}" for s in web}
    # No REDIS_URL: `ladder run` starts the embedded Redis, as `make run` does.
    env = {"PATH": os.environ["PATH"], "LADDER_VAR_DIR": str(tmp_path / "var"),
           "LADDER_WEB_WORKERS": "1", "LADDER_SOFT_SHUTDOWN_TIMEOUT": "2",
           "LADDER_STOP_GRACE_PERIOD": "10",
           # The monitor checks the ledger every second, not every 300 s.
           "LADDER_WITNESS_MONITOR_INTERVAL": "1", "LADDER_WITNESS_MONITOR_STALE_AFTER": "120",
           **ports}
    run = subprocess.Popen([LADDER, "run", "--procfile", str(ROOT / "Procfile")], cwd=tmp_path,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stdout is not None and run.stderr is not None
    out, err = Lines(run.stdout), Lines(run.stderr)
    groups: set[int] = set()
    try:
        out.until(lambda line: line.startswith("logs in"), timeout=240)
        for service in web:
            assert f"{service:12} {urls[service]}  ready  openapi: {urls[service]}/openapi.json" \
                in out.seen, out.seen
        # Nothing configured: the ledger asks the development witness, which follows it.
        witness = c2sp.parse_vkey(requests.get(urls["witness"] + "/v1/witness",
                                               timeout=5).json()["vkey"])
        assert [line for line in out.seen if line.endswith(f" vkey {witness.vkey}")], out.seen
        # And its monitor, which serves no HTTP, runs on the ledger's URL.
        assert ("witness-monitor  runs: fetches the published releases of "
                f"{urls['ledger']} every 1 s") in out.seen, out.seen
        auth = _writer(env)
        record_involvements(urls["recruitment"], auth, record_vacancy(urls["recruitment"], auth),
                            1)
        rpc: Any = childutils.getRPCInterface({
            "SUPERVISOR_SERVER_URL": f"unix://{tmp_path / 'var' / 'run' / 'supervisor.sock'}"
        }).supervisor
        before = {p["name"]: p["pid"] for p in rpc.getAllProcessInfo() if p["group"] == "ladder"}
        groups |= set(before.values())
        assert "witness-monitor" in before, before
        supervisord = int((tmp_path / "var" / "run" / "supervisord.pid").read_text())

        os.kill(before["recruitment"], signal.SIGKILL)
        err.until(lambda line: line == f"recruitment (pid {before['recruitment']}) was killed "
                  "by a signal; restarting it (attempt 1)", timeout=30)
        others = [s for s in SERVICES if s != "recruitment"]
        deadline = time.monotonic() + 60
        while not _serving(urls["recruitment"]):
            assert time.monotonic() < deadline, err.seen
            for service in others:
                assert _serving(urls[service]), f"{service} stopped serving"
        after = {p["name"]: p["pid"] for p in rpc.getAllProcessInfo() if p["group"] == "ladder"}
        groups |= set(after.values())
        assert after["recruitment"] != before["recruitment"]
        assert {n: p for n, p in after.items() if n != "recruitment"} == {
            n: p for n, p in before.items() if n != "recruitment"}
        assert _left_after({before["recruitment"]}) == [], "the killed gunicorn's workers end too"
        assert all(_serving(urls[s]) for s in web)

        # The vacancy and the involvement: a checkpoint of 2, signed by the ledger's key
        # and cosigned by the witness's, as an independent verifier checks them.
        note = _cosigned(urls["ledger"], witness, 2)
        log = c2sp.parse_vkey(requests.get(urls["ledger"] + "/v1/public-key",
                                           timeout=5).json()["vkey"])
        assert c2sp.open_checkpoint(note, log).size == 2
        assert c2sp.count_cosignatures(note, [witness]) == [witness.name]
        assert c2sp.verify_cosignature(note, witness) <= time.time()

        # The monitor reached the development ledger (it has published no release yet),
        # and its heartbeat is what docker-compose's health check reads.
        assert _monitored(urls["witness"])["problem"] is None
        logs = requests.get(urls["witness"] + "/v1/witness", timeout=5).json()["logs"]
        assert [entry["ledger_url"] for entry in logs] == [urls["ledger"]]
        health = subprocess.run([LADDER, "health", "witness-monitor", "--procfile",
                                 str(ROOT / "Procfile")], cwd=tmp_path, env=env,
                                capture_output=True, text=True)
        assert health.returncode == 0, health.stderr
    finally:
        run.send_signal(signal.SIGTERM)
        status = run.wait(timeout=90)
    assert status == 0, err.seen
    assert _left_after(groups) == []
    with pytest.raises(ProcessLookupError):
        os.kill(supervisord, 0)
    with socket.socket(socket.AF_UNIX) as redis, pytest.raises(OSError):
        redis.connect(str(tmp_path / "var" / "redis" / "redis.sock"))
