"""Whether a service answers ``/readyz`` with 200: its database and Redis are reachable."""

from __future__ import annotations

import time

import requests


def ready(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(url):
            return True
        time.sleep(0.25)
    return False
