"""What every service's ``create_app`` has in common."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, request

from shared import db, errors, health, limits, screening
from shared.celery_app import celery_init_app
from shared.config import load

JSON = ("application/json",)


def accepts(*mimetypes: str) -> Callable[[Any], Any]:
    """Mark a view (or MethodView) with the body content types it parses."""

    def mark(view: Any) -> Any:
        view.accepts = mimetypes
        return view

    return mark


def _check_content_type() -> None:
    if request.method not in ("POST", "PUT", "PATCH") or request.endpoint is None:
        return
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint)
    allowed = getattr(getattr(view, "view_class", view), "accepts", JSON)
    if allowed:
        errors.require_json(allowed)


def make_app(
    service: str,
    config: Mapping[str, Any] | None,
    register: Callable[[Flask, errors.LadderApi], None],
) -> Flask:
    """Build a service: settings, database, Celery, errors, health and OpenAPI."""
    app = Flask(f"services.{service}")
    app.config.update(load(service))
    app.config.update(
        API_TITLE=f"Ladder {service}",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    if config:
        app.config.update(config)
    db.init_app(app)
    limits.init_app(app)
    celery_init_app(app)
    api = errors.LadderApi(app)
    errors.init_app(app, api)
    app.before_request(_check_content_type)
    screening.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "ladder token create"})
    api.register_blueprint(health.blp)
    register(app, api)
    return app
