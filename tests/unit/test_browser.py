"""The browser tests need Debian's chromium, and say so when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import browser


def test_a_missing_chromium_fails_saying_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(browser.ChromiumMissing, match="apt-get install -y chromium"):
        browser.chromium_path()
