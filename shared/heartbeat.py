"""Heartbeats of the processes that serve no HTTP: the relay and Celery workers.

Each touches ``$LADDER_VAR_DIR/run/<process>.heartbeat`` while it is doing its
job: the relay after every pass over the outboxes, a Celery worker every few
seconds while it is connected to the broker and consuming. ``ladder health``
calls a process healthy when its file is fresh, which is what docker-compose's
health checks run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from shared.config import var_dir

log = logging.getLogger(__name__)

INTERVAL = 5.0  # seconds between a worker's beats
MAX_AGE = 30.0  # a heartbeat older than this is a process that has stopped working


def path(name: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    name = name or env.get("LADDER_PROCESS") or "ladder"
    return var_dir(env) / "run" / f"{name}.heartbeat"


def beat(target: Path | None = None) -> None:
    target = target or path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    except OSError as exc:
        # The process goes on working; its health check will say it is not.
        log.warning("could not write the heartbeat %s: %s", target, exc)


def age(target: Path) -> float | None:
    """Seconds since the last beat, or None if there has been none."""
    try:
        return max(0.0, time.time() - target.stat().st_mtime)
    except FileNotFoundError:
        return None
