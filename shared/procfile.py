"""The Procfile: the one list of Ladder's processes, and how each is started.

In docker-compose each service runs ``ladder start NAME``, which turns into the
command line of the process NAME and replaces itself with it; ``make run``
(``ladder run``) has supervisord run every process the same way
(shared/supervision.py). One line, ``migrate``, is the release step, as in
Heroku's Procfile: it runs to completion (:func:`release`) before any other process
starts. The e2e tests and the benchmarks, which kill and restart single processes,
start them with :func:`start_all`.

Some processes are optional (:data:`OPTIONAL`): they start only where they are asked
for, after their release step (:func:`release_steps`), which several may share. The
witness and its monitor are two, on one database: a body independent of the ledger's
operator runs them, so a deployment of Ladder does not, unless it asks (docker-compose's
``witness`` profile); ``ladder run`` starts them for development.

One line stands for every area: its name is ``{area}``, and it becomes one process per
area of the registry (shared/areas.py), named after the area, with ``{area}`` in its
command replaced by the area's name, ``{port}`` by its port variable
(``${RECRUITMENT_PORT}``) and ``{package}`` by its package. A new area runs without
an edit here.

Every process gets the environment of :func:`process_environment`: the defaults
below, ``LADDER_PROCESS`` (its name, for its logs and heartbeat) and its own
directory for metrics (shared/metrics.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shared import areas
from shared.config import DEFAULT_PORTS, metrics_dir

# Defaults for the variables the Procfile uses; .env.example lists the same.
PROCESS_DEFAULTS = {
    "LADDER_BIND": "127.0.0.1",
    "LADDER_WEB_WORKERS": "2",
    "LADDER_WEBHOOK_CONCURRENCY": "8",
    **{f"{name.upper()}_PORT": str(port) for name, port in DEFAULT_PORTS.items()},
    # A Celery worker's SIGTERM starts its soft shutdown (LADDER_SOFT_SHUTDOWN_TIMEOUT)
    # rather than an unbounded warm one: see docs/reliability.md.
    "REMAP_SIGTERM": "SIGQUIT",
}
RELEASE = "migrate"
# Each optional process, and its release step (a line of the Procfile too): the witness's
# monitor uses the witness's database, so it shares the witness's.
OPTIONAL = {"witness": "witness-migrate", "witness-monitor": "witness-migrate"}
AREA_LINE = "{area}"

_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def parse(path: Path) -> dict[str, str]:
    """Name -> command line, in file order; the area line as one line per area."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        if name.strip() != AREA_LINE:
            processes[name.strip()] = command.strip()
            continue
        for entry in areas.AREAS:
            processes[entry.name] = (command.strip().replace("{area}", entry.name)
                                     .replace("{port}", f"${{{entry.name.upper()}_PORT}}")
                                     .replace("{package}", entry.module))
    return processes


def is_release(name: str) -> bool:
    """Whether the process ``name`` is a release step: it runs to completion, once."""
    return name == RELEASE or name in OPTIONAL.values()


def release_steps(optional: Collection[str] = ()) -> list[str]:
    """The release steps to run, in order, before the long-running processes and the
    optional ones in ``optional``: ``migrate``, then each of theirs once."""
    return list(dict.fromkeys((RELEASE, *(OPTIONAL[name] for name in optional))))


def long_running(procfile: Path, optional: Collection[str] = ()) -> list[str]:
    """The processes that run until stopped, in file order: every one but the release
    steps, and of the optional ones only those in ``optional``."""
    return [name for name in parse(procfile)
            if not is_release(name) and (name not in OPTIONAL or name in optional)]


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


def process_environment(name: str, env: Mapping[str, str]) -> dict[str, str]:
    """The environment of one process: ``env``, its name, and its metrics directory.

    The directory is ``$LADDER_METRICS_DIR/<host>/<name>``: its own, so that it can
    be emptied when the process starts, and distinct on a volume that processes
    of several hosts (containers) share.
    """
    own = dict(env)
    own["LADDER_PROCESS"] = name
    own["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir(env) / socket.gethostname() / name)
    return own


def fresh_metrics_dir(env: Mapping[str, str]) -> None:
    """Empty a process's metrics directory before it starts, as prometheus-client asks."""
    directory = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def command(procfile: Path, name: str, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the process called ``name``."""
    processes = parse(procfile)
    if name not in processes:
        raise KeyError(f"the Procfile has no process {name!r}; it has {', '.join(processes)}")
    own = process_environment(name, env)
    return expand(processes[name], own), own


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

    def stop(self, timeout: float = 30.0) -> None:
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


def _log(log_dir: Path | None, name: str) -> IO[bytes] | None:
    return open(log_dir / f"{name}.log", "ab") if log_dir else None  # noqa: SIM115


def release(procfile: Path, env: dict[str, str], log_dir: Path | None = None,
            name: str = RELEASE) -> int:
    """Run a release step (``migrate``, or an optional process's) to completion; its exit
    status."""
    if name not in parse(procfile):
        return 0
    argv, own = command(procfile, name, env)
    process = Process(name, argv, own, _log(log_dir, name)).start()
    assert process.popen is not None
    status = process.popen.wait()
    if process.log:
        process.log.close()
    return status


def start_all(procfile: Path, env: dict[str, str], names: list[str] | None = None,
              log_dir: Path | None = None) -> dict[str, Process]:
    """Start the processes named, in file order; by default the long-running ones that
    are not optional (:func:`long_running`)."""
    chosen = long_running(procfile) if names is None else names
    started: dict[str, Process] = {}
    for name in parse(procfile):
        if name not in chosen:
            continue
        argv, own = command(procfile, name, env)
        fresh_metrics_dir(own)
        started[name] = Process(name, argv, own, _log(log_dir, name)).start()
    return started


def stop_all(processes: Mapping[str, Process], grace: float = 30.0) -> None:
    """SIGTERM every process; SIGKILL those still running ``grace`` seconds later."""
    for process in processes.values():
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes.values():
        remaining = max(0.1, deadline - time.monotonic())
        try:
            if process.popen is not None:
                process.popen.wait(remaining)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.log:
            process.log.close()
