"""The ledger: the Celery worker that appends, and the auditor API that reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.app import make_app
from shared.errors import LadderApi


def _register(app: Flask, api: LadderApi) -> None:
    from services.ledger import api as routes
    from services.ledger import tasks  # noqa: F401  (registers the Celery task)

    api.register_blueprint(routes.blp)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return make_app("ledger", config, _register)
