"""What every service's ``create_app`` has in common."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, g, request

from shared import db, errors, health, limits, logs, metrics, screening
from shared.celery_app import celery_init_app
from shared.config import load

QUIET = ("/healthz", "/readyz", "/metrics")  # polled every few seconds: logged at DEBUG

log = logging.getLogger("ladder.http")


def _begin_request() -> None:
    g.request_started = time.perf_counter()
    g.log_token = logs.bind(request_id=logs.request_id_from(
        request.headers.get(logs.REQUEST_ID_HEADER)))


def _log_request(response: Response) -> Response:
    """Echo the request id and write one log line per request."""
    request_id = logs.current_request_id()
    if request_id:
        response.headers[logs.REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    log.log(logging.DEBUG if request.path in QUIET else logging.INFO, "%s %s %s",
            request.method, request.path, response.status_code, extra={
                "method": request.method, "path": request.path,
                "endpoint": request.url_rule.rule if request.url_rule else None,
                "status": response.status_code, "remote_addr": request.remote_addr,
                "duration_ms": round(1000 * (time.perf_counter() - started), 2)
                if started is not None else None})
    return response


def _end_request(_: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        logs.unbind(token)


def make_app(
    service: str,
    config: Mapping[str, Any] | None,
    register: Callable[[Flask, errors.LadderApi], None],
) -> Flask:
    """Build a service: settings, database, Celery, errors, health, metrics, OpenAPI."""
    app = Flask(f"services.{service}")
    # An id that begins or ends with "/" (%2F) must name nothing, not be redirected to
    # the id without it: Werkzeug would answer 308 to another resource's URL.
    app.url_map.merge_slashes = False
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
    app.before_request(_begin_request)
    app.after_request(_log_request)
    app.teardown_request(_end_request)
    screening.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "ladder token create"})
    api.register_blueprint(health.blp)
    metrics.init_app(app, api)
    register(app, api)
    return app
