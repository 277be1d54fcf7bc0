"""How long each stage of the compose test took, with the load average, for the summary."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

TIMES: list[str] = []


@contextmanager
def stage(name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        TIMES.append(f"{name:<34} {time.monotonic() - started:6.1f}s  (load {load})")
