"""Headless Chromium (Debian's package) driven by Playwright, for the dashboard's tests
and its screenshot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# No network here and no desktop: nothing that reaches out, nothing that needs a GPU.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]


class ChromiumMissing(RuntimeError):
    """Chromium is not installed where the browser tests look for it."""


def chromium_path() -> str:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    raise ChromiumMissing(
        f"Chromium is not installed at {CHROMIUM}: the dashboard's browser tests drive "
        "Debian's chromium package. Install it with `apt-get install -y chromium` (as root; "
        "`make install` does it when it runs as root and apt-get is there).")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (a Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
