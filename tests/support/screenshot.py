"""docs/dashboard.png: everything started in a temporary directory, `ladder demo` run
into it, and the dashboard photographed by headless Chromium.

    PYTHONPATH=. .venv/bin/python -m tests.support.screenshot docs/dashboard.png
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from services.ledger.models import ApiToken
from shared.auth import create_token
from shared.config import SERVICES, load
from shared.db import Database
from tests.support.browser import chromium
from tests.support.stack import Stack, prepare


def start(directory: Path) -> Stack:
    """Every process on SQLite under ``directory``, as `make run` starts them."""
    urls = {s: f"sqlite:///{directory / (s + '.db')}" for s in SERVICES}
    stack = prepare(directory / "stack", urls)
    stack.start()
    return stack


def run_demo(stack: Stack, *args: str) -> str:
    """`ladder demo` against the stack, as a user runs it; returns what it printed."""
    ladder = Path(sys.executable).parent / "ladder"
    done = subprocess.run([str(ladder), "demo", *args], env=stack.env, capture_output=True,
                          text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ladder demo failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def reader_token(stack: Stack, scope: str = "ledger:read") -> str:
    url = stack.env["LEDGER_DATABASE_URL"]
    return create_token(Database(url), ApiToken, load("ledger", stack.env)["TOKEN_PEPPER"],
                        "screenshot", [scope])


def photograph(base: str, token: str, out: Path) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1900})
        page.goto(f"{base}/dashboard")
        page.fill("#token", token)
        page.click("form button[type=submit]")
        page.wait_for_selector("h1")
        page.screenshot(path=str(out), full_page=False)


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        stack = start(Path(directory))
        try:
            print(run_demo(stack))
            photograph(stack.url("ledger"), reader_token(stack), Path(out))
        finally:
            stack.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png")
