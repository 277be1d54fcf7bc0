"""The ledger: the Celery worker that appends, the auditor API that reads, and the
webhooks that tell subscribers what was appended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.app import make_app
from shared.errors import LadderApi


def _register(app: Flask, api: LadderApi) -> None:
    from services.ledger import (  # noqa: F401
        access,
        dashboard,
        followers,
        home,
        log_api,
        receipts,
        releases_api,
        service,
        targets_api,
        tasks,
        tiles,
        tiles_api,
    )
    from services.ledger import api as routes
    from services.ledger.disclosure import Control
    from services.ledger.models import ApiToken
    from services.ledger.signing import load_signer
    from services.ledger.webhooks import api as subscriptions
    from services.ledger.witnessing import Witness
    from shared.health import readiness
    from shared.metrics import gauges

    app.extensions["token_model"] = ApiToken
    app.extensions["signer"] = load_signer(app.config)
    app.extensions["witnesses"] = [Witness(url, key) for url, key in app.config["WITNESSES"]]
    app.extensions["tiles"] = tiles.Cache()
    app.extensions["disclosure"] = Control.from_config(app.config)
    gauges(app, service.gauges)
    gauges(app, followers.gauges)
    readiness(app, "followers", lambda: followers.readiness(
        app.extensions["db"], app.config["FOLLOW_STUCK_AFTER"]))
    access.init_app(app)
    api.register_blueprint(routes.blp)
    api.register_blueprint(log_api.blp)
    api.register_blueprint(log_api.keys)
    api.register_blueprint(tiles_api.blp)
    api.register_blueprint(receipts.blp)
    dashboard.init_app(app)
    home.init_app(app)
    api.register_blueprint(subscriptions.blp)
    api.register_blueprint(releases_api.blp)
    api.register_blueprint(targets_api.blp)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return make_app("ledger", config, _register)
