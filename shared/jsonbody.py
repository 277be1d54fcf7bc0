"""JSON request bodies, parsed once and strictly, the same way at every intake.

Python's own parser is lenient where a ledger cannot be: the last of two equal
keys silently wins, ``NaN`` and ``Infinity`` are accepted, a 5,000-digit number
fails with an error nobody catches, and ``"\\ud800"`` becomes a string that no
database can store. :func:`loads` refuses each of these with the status the API
documents (docs/api.md, "What every intake refuses"):

- 400 for a body that is not JSON as RFC 8259 defines it: not UTF-8, malformed,
  nested too deeply, ``NaN``/``Infinity``, or an object with a key twice;
- 422 naming each field whose text cannot be stored (shared/text.py) or whose
  number no field can hold (more than :data:`MAX_DIGITS` digits, or beyond a
  double's range).
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared import text

# No quantity Ladder stores needs more: the largest column is a 64-bit integer (19
# digits). Longer literals are kept as text until the check below names them.
MAX_DIGITS = 20
OUT_OF_RANGE = "Number out of range."
INFINITY = float("inf")
# Only an escape can put NUL or a lone surrogate into a parsed string (raw control
# characters are invalid JSON, raw surrogates invalid UTF-8): look for one first.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class Refused(Exception):
    """The body cannot be accepted; ``status``, ``message`` and ``errors`` say why."""

    def __init__(self, status: int, message: str, errors: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


class _Unrepresentable(str):
    """A number literal kept as text because no field could hold its value."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                name = text.shown(key)
                raise Refused(400, f"The request body has the key {name!r} twice.",
                              {"json": [f"Duplicate key {name!r}."]})
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    raise Refused(400, f"The request body is not valid JSON: {name} is not a JSON number.",
                  {"json": [f"{name} is not valid JSON."]})


def loads(body: bytes | str) -> Any:
    """Parse a request body strictly; raise :class:`Refused` saying why not."""
    try:
        raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "The request body is not valid UTF-8.",
                      {"json": [f"Not UTF-8 at byte {exc.start}."]}) from exc
    numbers: list[str] = []  # literals too large to hold, found while parsing

    def integer(literal: str) -> int | str:
        if len(literal) - literal.startswith("-") > MAX_DIGITS:
            numbers.append(literal)
            return _Unrepresentable(literal)
        return int(literal)

    def real(literal: str) -> float | str:
        value = float(literal)
        if value in (INFINITY, -INFINITY):
            numbers.append(literal)
            return _Unrepresentable(literal)
        return value

    try:
        value = json.loads(source, object_pairs_hook=_object, parse_int=integer,
                           parse_float=real, parse_constant=_constant)
    except RecursionError as exc:
        raise Refused(400, "The request body is nested too deeply.",
                      {"json": ["Nested too deeply."]}) from exc
    except json.JSONDecodeError as exc:
        raise Refused(400, "The request body is not valid JSON.",
                      {"json": [f"{exc.msg} at line {exc.lineno} column {exc.colno}."]}) from exc
    suspect = _SUSPECT_ESCAPE.search(raw) is not None
    if suspect or numbers:

        def check(item: str) -> str | None:
            if type(item) is _Unrepresentable:
                return OUT_OF_RANGE
            return text.problem(item) if suspect else None

        found = text.problems(value, check)
        if found:
            raise Refused(422, "Some fields are invalid: " + ", ".join(found),
                          {"json": {path: [message] for path, message in found.items()}})
    return value
