"""One error shape for every response: ``{code, status, message, errors}``."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import flask_smorest
from flask import Flask, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError, UnsupportedMediaType
from werkzeug.http import HTTP_STATUS_CODES

from shared.openapi import DeferredDocsApi

log = logging.getLogger(__name__)

# Errors that mean the database cannot be reached, not that the request is wrong.
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
RETRY_AFTER_UNAVAILABLE = 5


class DomainError(Exception):
    """Base of the errors a use case raises; translated to HTTP at the edge."""

    status = 400

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    """The reader is known, and this is not theirs to read."""

    status = 403


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    """A field is invalid; ``errors`` names it."""

    status = 422


class Unavailable(DomainError):
    """A database could not do its part; ``errors`` names which. The same request again
    finishes the job."""

    status = 503


def error_body(code: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Unknown"),
        "message": message,
        "errors": errors or {},
    }


class LadderApi(DeferredDocsApi):
    """flask-smorest's Api, with ``message`` and ``errors`` always present (and its
    document written when first read: shared/openapi.py)."""

    def handle_http_exception(self, error: HTTPException) -> tuple[dict[str, Any], int, Any]:
        code = error.code or 500
        data = getattr(error, "data", None) or {}
        message = data.get("message") or error.description or error.name
        errors = data.get("errors") or data.get("messages") or {}
        if code == 400 and not data.get("message") and "json" in errors:
            message = "The request body is not valid JSON."
        if code == 422 and not data.get("message"):
            message = "Some fields are invalid: " + ", ".join(_field_names(errors))
        headers = data.get("headers") or dict(getattr(error, "get_headers", lambda: [])())
        headers.pop("Content-Type", None)
        return error_body(code, message, errors), code, headers


def _field_names(errors: Any, prefix: str = "") -> list[str]:
    """Flatten webargs' nested messages into dotted field names."""
    if not isinstance(errors, dict):
        return [prefix.rstrip(".")] if prefix else []
    names: list[str] = []
    for key, value in errors.items():
        path = f"{prefix}{key}" if key not in ("json", "query", "headers", "view_args") else prefix
        if isinstance(value, dict):
            names += _field_names(value, f"{path}." if path else "")
        else:
            names.append(path or str(key))
    return names


def init_app(app: Flask, api: LadderApi) -> None:
    """Translate domain errors and unexpected ones into the common shape."""

    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> tuple[dict[str, Any], int]:
        return error_body(error.status, error.message, error.errors), error.status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return api.handle_http_exception(error)
        if isinstance(error, UNAVAILABLE):
            # The database is away (restarting, failing over): nothing was written, and
            # the same request will succeed later. Not a bug in the request or in us.
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        str(error).splitlines()[0])
            return (error_body(503, "The database is unavailable; try again shortly."), 503,
                    {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})
        log.exception("unhandled error on %s %s", request.method, request.path)
        return api.handle_http_exception(InternalServerError())


def require_json(allowed: tuple[str, ...] = ("application/json",)) -> None:
    """Refuse a body whose content type is not one we parse (415)."""
    if request.mimetype not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type must be one of {', '.join(allowed)}; got {request.mimetype or 'none'}."
        )


def fail(code: int, *, message: str, errors: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> NoReturn:
    """Stop the request with the common error body."""
    extra: dict[str, Any] = {"headers": headers} if headers else {}
    flask_smorest.abort(code, message=message, errors=errors or {}, **extra)
    raise AssertionError("abort() raises")
