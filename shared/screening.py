"""Bodies and arguments refused before any route sees them, the same way in every service.

Each guard turns input that would otherwise crash a parser or the database (a
5xx) into the one error shape with a 4xx, and writes nothing. A JSON body is
parsed here, once and strictly (shared/jsonbody.py); routes and schemas read
that parse through :func:`json_body`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from marshmallow import missing

from shared import jsonbody, text
from shared.errors import fail, require_json

JSON = ("application/json",)
# A view that takes a body with no Content-Type at all lists this among its types.
NO_CONTENT_TYPE = ""


def accepts(*mimetypes: str) -> Callable[[Any], Any]:
    """Mark a view (or MethodView) with the body content types it parses."""

    def mark(view: Any) -> Any:
        view.accepts = mimetypes
        return view

    return mark


def after_authentication(view: Any) -> Any:
    """Mark a view that authenticates its raw body (a signed webhook) before parsing it.

    It parses the body itself, with :func:`shared.jsonbody.loads`, once the
    signature holds: a forged delivery is 401 whatever its body.
    """
    view.parses_after_authentication = True
    return view


def init_app(app: Flask) -> None:
    app.before_request(_check_content_type)
    app.before_request(_refuse_nul_in_path_and_query)
    app.before_request(_parse_json_body)


def _has_body() -> bool:
    return request.method in ("POST", "PUT", "PATCH")


def _accepted() -> tuple[str, ...]:
    return tuple(getattr(_view_class(), "accepts", JSON))


def _check_content_type() -> None:
    """A body whose content type the route does not parse is refused (415)."""
    if not _has_body() or request.endpoint is None:
        return
    allowed = _accepted()
    if allowed:
        require_json(allowed)


def _view_class() -> Any:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "view_class", view)


def _is_json() -> bool:
    mimetype = request.mimetype
    if mimetype.endswith("json"):
        return True
    return not mimetype and request.endpoint is not None and NO_CONTENT_TYPE in _accepted()


def json_body() -> Any:
    """The request's JSON body, parsed strictly once; ``missing`` when it has none.

    A body that cannot be accepted ends the request here: 400 or 422 in the one
    shape, naming the field (shared/jsonbody.py).
    """
    if "json_body" not in g:
        body = request.get_data(cache=True)
        if not body:
            g.json_body = missing
        else:
            try:
                g.json_body = jsonbody.loads(body)
            except jsonbody.Refused as refused:
                fail(refused.status, message=refused.message, errors=refused.errors)
    return g.json_body


def _parse_json_body() -> None:
    """Every JSON body is parsed before the route runs, so a refused one writes nothing."""
    if _has_body() and _is_json() and not getattr(_view_class(), "parses_after_authentication",
                                                   False):
        json_body()


def _refuse_nul_in_path_and_query() -> None:
    """No text Ladder stores may hold NUL: PostgreSQL refuses it, so refuse it first.

    A path with one names nothing (404); a query argument with one is invalid (422,
    naming it). Werkzeug decodes paths and queries with replacement characters, so
    neither can hold a lone surrogate.
    """
    if "\x00" in request.path:
        fail(404, message="Not found: the path contains a NUL character.")
    bad = sorted({k for k, v in request.args.items(multi=True) if "\x00" in k + v})
    if bad:
        fail(422, message="Some fields are invalid: " + ", ".join(map(text.shown, bad)),
             errors={"query": {text.shown(k): [text.NUL] for k in bad}})
