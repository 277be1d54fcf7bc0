"""Liveness and readiness, the same for every service."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask.views import MethodView
from marshmallow import Schema, fields

from shared.blueprint import Blueprint
from shared.celery_app import broker_reachable
from shared.db import current_db
from shared.errors import fail

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """The process is up."""
        return {"status": "ok", "checks": {}}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="A dependency is unreachable")
    def get(self) -> Any:
        """The database and the broker are reachable, and the service's own checks pass
        (the ledger's: no follower of the log is stuck)."""
        checks: dict[str, str] = {}
        try:
            with current_db().reading() as session:
                session.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            log.warning("readiness: database unreachable: %s", exc)
            checks["database"] = "unreachable"
        try:
            broker_reachable(current_app.extensions["celery"], current_app.config["BROKER_TIMEOUT"])
            checks["broker"] = "ok"
        except Exception as exc:
            log.warning("readiness: broker unreachable: %s", exc)
            checks["broker"] = "unreachable"
        if checks["database"] == "ok":
            for name, check in current_app.extensions.get("readiness", {}).items():
                checks[name] = check()
        if all(v == "ok" for v in checks.values()):
            return {"status": "ok", "checks": checks}
        fail(503, message="Not ready: a dependency is unreachable or a process is stuck.",
             errors={"checks": checks})


def readiness(app: Flask, name: str, check: Callable[[], str]) -> None:
    """A check of this service's own for /readyz: it answers "ok" or what is wrong."""
    app.extensions.setdefault("readiness", {})[name] = check
