"""Text Ladder can store: valid Unicode that encodes to UTF-8, without NUL.

JSON can carry what no database column holds: ``"\\u0000"`` (PostgreSQL refuses
NUL in text) and a lone UTF-16 surrogate such as ``"\\ud800"`` (no UTF-8 encoding
exists for it). A program's arguments can carry the same: bytes that are not
UTF-8 reach Python as lone surrogates. Every intake asks here first, so such
text is refused at the door instead of failing deep in a write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NUL = "Text may not contain NUL characters."
NOT_UNICODE = "Text must be valid Unicode: it contains a lone surrogate (\\ud800-\\udfff)."


def problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return NOT_UNICODE
    return None


def shown(text: str) -> str:
    """``text`` made safe to print, store or name in an error: NUL and lone surrogates
    escaped as ``\\0`` and ``\\udXXX``; anything else unchanged."""
    return text.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")


def problems(value: Any, check: Callable[[str], str | None] = problem) -> dict[str, str]:
    """Dotted paths of the strings, and keys, in a JSON value that ``check`` refuses
    (by default: that cannot be stored), with the reason."""
    found: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # not recursive: the value may be nested hundreds deep
        path, item = stack.pop()
        if isinstance(item, str):
            why = check(item)
            if why:
                found[path or "body"] = why
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{shown(str(key))}" if path else shown(str(key))
                why = check(key) if isinstance(key, str) else None
                if why:
                    found[where] = why
                stack.append((where, child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}.{i}" if path else str(i), c) for i, c in enumerate(item))
    return dict(sorted(found.items()))
