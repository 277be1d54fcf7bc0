"""Whether a service answers ``/readyz`` with 200: its database and Redis are reachable."""

from __future__ import annotations

import time
import urllib.request


def ready(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(url):
            return True
        time.sleep(0.25)
    return False
