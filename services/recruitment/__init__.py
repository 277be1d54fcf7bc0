"""Recruitment: citizens' involvement in filling vacancies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.app import make_app
from shared.errors import LadderApi


def _register(app: Flask, api: LadderApi) -> None:
    from services.recruitment import api as routes

    api.register_blueprint(routes.blp)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return make_app("recruitment", config, _register)
