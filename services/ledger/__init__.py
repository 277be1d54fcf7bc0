"""The ledger: the Celery worker that appends, and the auditor API that reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.app import make_app
from shared.errors import LadderApi


def _register(app: Flask, api: LadderApi) -> None:
    from services.ledger import access, log_api, service, tasks  # noqa: F401  (tasks: the task)
    from services.ledger import api as routes
    from services.ledger.models import ApiToken
    from services.ledger.signing import load_signer
    from shared.metrics import gauges

    app.extensions["token_model"] = ApiToken
    app.extensions["signer"] = load_signer(app.config)
    gauges(app, service.gauges)
    access.init_app(app)
    api.register_blueprint(routes.blp)
    api.register_blueprint(log_api.blp)
    api.register_blueprint(log_api.keys)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return make_app("ledger", config, _register)
