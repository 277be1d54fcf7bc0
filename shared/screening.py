"""Bodies and arguments refused before any route sees them, the same way in every service.

Each guard turns input that would otherwise crash a parser or the database (a
5xx) into the one error shape with a 4xx, and writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request

from shared.errors import fail


def init_app(app: Flask) -> None:
    app.before_request(_refuse_json_nested_too_deeply)
    app.before_request(_refuse_nul_characters)


def _refuse_json_nested_too_deeply() -> None:
    """A JSON body nested deeper than Python's parser recurses is malformed (400).

    Every parser (webargs, Flask, the webhook's own) would crash on it instead. Only
    a body with many brackets can be that deep, so only such a body is parsed here.
    """
    if request.method not in ("POST", "PUT", "PATCH") or not request.mimetype.endswith("json"):
        return
    body = request.get_data(cache=True)
    if body.count(b"[") + body.count(b"{") < 500:
        return
    try:
        json.loads(body)
    except RecursionError:
        fail(400, message="The request body is nested too deeply.",
             errors={"json": ["Nested too deeply."]})
    except ValueError:
        return  # malformed in another way: the route's own parser says how


NUL = "Text may not contain NUL characters."


def _nul_paths(value: Any) -> list[str]:
    """Dotted paths of the strings (and keys) in a JSON value that contain NUL."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # not recursive: the value may be nested hundreds deep
        path, item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            found.append(path or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    found.append(where)
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), c) for i, c in enumerate(item))
    return sorted(found)


def _refuse_nul_characters() -> None:
    """No text Ladder stores may hold NUL: PostgreSQL refuses it, so refuse it first.

    A path with one names nothing (404); a query argument or a JSON field with one is
    invalid (422, naming it).
    """
    if "\x00" in request.path:
        fail(404, message="Not found: the path contains a NUL character.")
    bad = sorted({k for k, v in request.args.items(multi=True) if "\x00" in k + v})
    if bad:
        fail(422, message="Some fields are invalid: " + ", ".join(bad),
                    errors={"query": {k.replace("\x00", "\\0"): [NUL] for k in bad}})
    if request.method not in ("POST", "PUT", "PATCH") or not request.mimetype.endswith("json"):
        return
    body = request.get_data(cache=True)
    if b"\\u0000" not in body:  # JSON can only carry NUL escaped
        return
    try:
        paths = _nul_paths(json.loads(body))
    except (ValueError, RecursionError):
        return  # malformed: the route's own parser says how
    if paths:
        fail(422, message="Some fields are invalid: " + ", ".join(map(_shown, paths)),
             errors={"json": {_shown(p): [NUL] for p in paths}})


def _shown(name: str) -> str:
    return name.replace("\x00", "\\0")
