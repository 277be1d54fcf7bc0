"""Start the processes listed in the Procfile, watch them, stop them together."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shared.config import DEFAULT_PORTS

# Defaults for the variables the Procfile uses; .env.example lists the same.
PROCESS_DEFAULTS = {
    "LADDER_BIND": "127.0.0.1",
    "LADDER_WEB_WORKERS": "2",
    "LADDER_WEBHOOK_CONCURRENCY": "8",
    **{f"{name.upper()}_PORT": str(port) for name, port in DEFAULT_PORTS.items()},
}

_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def parse(path: Path) -> dict[str, str]:
    """Name -> command line, in file order."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = command.strip()
    return processes


def expand(command: str, env: Mapping[str, str]) -> list[str]:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"the Procfile uses ${{{name}}}, which is not set")
        return env[name]

    return shlex.split(_VAR.sub(value, command))


def environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for key, default in PROCESS_DEFAULTS.items():
        env.setdefault(key, default)
    # Commands from the same virtualenv as the one running us.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: IO[bytes] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        self.popen = subprocess.Popen(
            self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Signal the whole process group: gunicorn and Celery have children."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait()

    def kill(self) -> None:
        if self.popen is None:
            return
        self.signal(signal.SIGKILL)
        self.popen.wait()


def start_all(procfile: Path, env: dict[str, str], names: list[str] | None = None,
              log_dir: Path | None = None) -> dict[str, Process]:
    started: dict[str, Process] = {}
    for name, command in parse(procfile).items():
        if names is not None and name not in names:
            continue
        log = open(log_dir / f"{name}.log", "ab") if log_dir else None  # noqa: SIM115
        started[name] = Process(name, expand(command, env), env, log).start()
    return started


def stop_all(processes: Mapping[str, Process]) -> None:
    for process in processes.values():
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes.values():
        remaining = max(0.1, deadline - time.monotonic())
        try:
            if process.popen is not None:
                process.popen.wait(remaining)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.log:
            process.log.close()
