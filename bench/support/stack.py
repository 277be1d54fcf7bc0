"""The real processes, started from the Procfile exactly as `make run` starts them.

Used by the benchmarks and by the e2e tests (through tests/support/stack.py).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from pathlib import Path
from typing import Any

import requests

from services.ledger.models import ApiToken as LedgerToken
from shared import procfile
from shared.area.models import ApiToken
from shared.auth import SCOPE_VERBS, create_token
from shared.config import DOMAIN_SERVICES, SERVICES, load
from shared.db import Database
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.migrations import upgrade

ROOT = Path(__file__).resolve().parents[2]

# The ledger's side of the write path: what every area's events pass through (the webhook
# worker answers the relay's "settled?" too). A stack that loads some areas starts these.
WRITE_PATH = ("ledger", "ledger-worker", "ledger-follower", "webhook-worker", "relay")


class Stack:
    """Redis, every service under gunicorn, the ledger and webhook workers, the relay."""

    def __init__(self, directory: Path, db_urls: dict[str, str], **env: str) -> None:
        self.directory = directory
        self.redis = EmbeddedRedis(directory / "redis", port=free_port())
        self.env = procfile.environment()
        self.env.update({
            "LADDER_VAR_DIR": str(directory / "var"),
            "LADDER_WEB_WORKERS": "1",
            "LADDER_VISIBILITY_TIMEOUT": "4",
            "LADDER_REPUBLISH_AFTER": "8",
            # A stop waits this long for the worker's soft shutdown; keep tests quick.
            "LADDER_SOFT_SHUTDOWN_TIMEOUT": "2",
            "REDIS_URL": self.redis.url,
            **{f"{s.upper()}_DATABASE_URL": url for s, url in db_urls.items()},
            **{f"{s.upper()}_PORT": str(free_port()) for s in SERVICES},
            **env,
        })
        self.logs = directory / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, procfile.Process] = {}
        self.tokens: dict[str, str] = {}

    def auth(self, service: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[service]}"}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.env[service.upper() + '_PORT']}"

    def start(self, *names: str) -> None:
        offsets = {name: self._size(name) for name in SERVICES}
        started = procfile.start_all(ROOT / "Procfile", self.env, list(names) or None, self.logs)
        self.processes.update(started)
        for name in started:
            if name not in SERVICES:
                continue
            # A free port can be taken before gunicorn binds it: then take another.
            for _ in range(3):
                if listening(self.logs / f"{name}.log", offsets[name],
                             self.env[f"{name.upper()}_PORT"], self.processes[name].pid):
                    break
                self.processes.pop(name).kill()
                self.env[f"{name.upper()}_PORT"] = str(free_port())
                offsets[name] = self._size(name)
                self.processes.update(procfile.start_all(ROOT / "Procfile", self.env, [name],
                                                         self.logs))
            self.wait_ready(name)

    def _size(self, name: str) -> int:
        path = self.logs / f"{name}.log"
        return path.stat().st_size if path.exists() else 0

    def wait_ready(self, service: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url(service) + "/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{service} did not come up; logs: {self.log(service)}")

    def kill(self, name: str) -> None:
        self.processes.pop(name).kill()

    def revive(self, *names: str) -> None:
        """Start Redis again if it has stopped, and any of these processes that is not
        running (killed, or exited): a stack shared by a module's tests, put back as the
        next test expects it after one that stopped something and then failed."""
        if self.redis.process is None or self.redis.process.poll() is not None:
            self.redis.start()
        for name in names:
            if name not in self.processes or not self.processes[name].alive():
                self.processes.pop(name, None)
                self.start(name)

    def tree_size(self) -> int:
        """How many entries the ledger's signed tree head covers (no token needed)."""
        response = requests.get(self.url("ledger") + "/ct/v1/get-sth", timeout=10)
        response.raise_for_status()
        return int(response.json()["tree_size"])

    def restart(self, name: str) -> None:
        self.processes.pop(name).stop()
        self.start(name)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def log_lines(self, name: str) -> list[dict[str, Any]]:
        """A process's JSON log lines (Celery's plain-text shutdown notices aside)."""
        path = self.logs / f"{name}.log"
        text = path.read_text() if path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def entries(self, **params: Any) -> list[dict[str, Any]]:
        """Every ledger entry, following the cursor."""
        found: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            page = requests.get(self.url("ledger") + "/v1/entries", headers=self.auth("ledger"),
                                params={"after": after, "limit": 1000, **params}, timeout=10)
            page.raise_for_status()
            found += page.json()["items"]
            after = page.json()["next_after"]
        return found

    def wait_for_entries(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """The entries, once there are ``count`` and, if the followers of the log run,
        once they have applied them all (the figures then count them)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.entries()
            if len(entries) >= count and self.followed() or time.monotonic() > deadline:
                return entries
            time.sleep(0.2)

    def lag(self) -> dict[str, int]:
        """How many entries each follower of the log has yet to apply, from the
        ledger's /metrics (no token needed)."""
        response = requests.get(self.url("ledger") + "/metrics", timeout=10)
        response.raise_for_status()
        found = re.findall(r"^ladder_ledger_follower_lag_entries\{([^}]*)\} (\S+)$",
                           response.text, re.MULTILINE)
        return {re.search(r'follower="(\w+)"', labels)[1]: int(float(value))  # type: ignore[index]
                for labels, value in found}

    def followed(self) -> bool:
        """Every follower has applied every entry; true if the follower process does
        not run here."""
        process = self.processes.get("ledger-follower")
        return process is None or not process.alive() or not any(self.lag().values())

    def stop(self) -> None:
        procfile.stop_all(self.processes)
        self.processes.clear()
        self.redis.stop()

    def kill_all(self) -> None:
        """SIGKILL everything at once: for a teardown, where a graceful stop is not what is
        being measured or tested and only costs time."""
        processes = list(self.processes.values())
        for process in processes:
            process.signal(signal.SIGKILL)
        for process in processes:
            process.kill()  # reaps it
            if process.log:
                process.log.close()
        self.processes.clear()
        self.redis.stop(signal.SIGKILL)


def listening(log: Path, offset: int, port: str, pid: int, timeout: float = 30) -> bool:
    """Whether gunicorn ``pid`` listens on ``port``; False if another program holds it.

    gunicorn says "Connection in use" at once when it cannot bind, and "Listening at:
    ... (PID)" when it has (an INFO line: below LADDER_LOG_LEVEL=WARNING, a few quiet
    seconds with the port open stand for it).
    """
    started = time.monotonic()
    text = ""
    while time.monotonic() < started + timeout:
        text = log.read_bytes()[offset:].decode(errors="replace") if log.exists() else ""
        if f":{port} ({pid})" in text:  # "Listening at: http://127.0.0.1:PORT (PID)"
            return True
        if "Connection in use" in text:
            return False
        if time.monotonic() > started + 3 and _open(int(port)):
            return True
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not say it listens on {port}: {text[-2000:]}")


def _open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def prepare(directory: Path, urls: dict[str, str], migrate: bool = True, **env: str) -> Stack:
    """Migrate the databases (unless they are already) and issue tokens; start Redis. The
    processes start later."""
    if migrate:
        for service, url in urls.items():
            upgrade(service, url)
    running = Stack(directory, urls, **env)
    running.tokens = {s: create_token(Database(urls[s]), ApiToken,
                                      load(s, running.env)["TOKEN_PEPPER"], "e2e",
                                      [f"{s}:{verb}" for verb in SCOPE_VERBS[s]])
                      for s in DOMAIN_SERVICES}
    pepper = load("ledger", running.env)["TOKEN_PEPPER"]
    # The tests read entries: an inspector's token, with its purpose.
    running.tokens["ledger"] = create_token(Database(urls["ledger"]), LedgerToken, pepper,
                                            "e2e-inspector", ["ledger:inspect"],
                                            "end-to-end tests read what they sent")
    running.tokens["ledger-admin"] = create_token(Database(urls["ledger"]), LedgerToken, pepper,
                                                  "e2e-admin", ["ledger:admin"])
    running.redis.start()
    return running
