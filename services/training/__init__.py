"""Training: citizens' involvement in training."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.app import make_app
from shared.errors import LadderApi


def _register(app: Flask, api: LadderApi) -> None:
    """The area's own routes arrive with its domain."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return make_app("training", config, _register)
