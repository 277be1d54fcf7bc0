"""Schema fields every service's API shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import fields, validate

# The largest values of the database's INTEGER and BIGINT columns (PostgreSQL's
# sizes; SQLite's are 64-bit throughout). A number beyond its column makes the
# driver fail, so an argument compared with one is bounded by it: 422, not 500.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# A path converter for an INTEGER id: a larger number is no such route (404).
INT_ID = f"int(max={INT32_MAX})"


def cursor(minimum: int = 0, maximum: int = INT32_MAX, **kwargs: Any) -> fields.Integer:
    """A non-negative integer argument (a cursor, a tree size) that fits its column."""
    return fields.Integer(validate=validate.Range(min=minimum, max=maximum), **kwargs)


class UtcDateTime(fields.DateTime):
    """A time stored naive in UTC, written as RFC 3339 with its offset, as OpenAPI says."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)
