"""A list in runs of at most ``size`` items: each call site says why its size.

Most sizes come from one limit: a statement with ``column.in_(KEYS)`` binds one
parameter per key, and SQLite before 3.32 refused more than 999 in a statement
(later builds allow 32,766).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Keys per ``IN (...)``: half of SQLite's old 999-parameter bound, leaving room for the
# statement's own parameters (a source, a prefix of columns) on any SQLite in use.
KEYS_PER_STATEMENT = 500


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in order, ``size`` at a time; the last run may be shorter."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
