"""Schema fields every service's API shares.

Bodies are JSON, so a body's fields take JSON's own types and nothing that merely
parses as one: a number is a JSON number (never ``"3"``), an integer has no
fraction (never ``1.5`` or ``2.589e-42``), a boolean is ``true`` or ``false``
(never ``"yes"`` or ``1``). Query arguments arrive as text and use marshmallow's
own fields.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from shared.envelope import EARLIEST
from shared.times import rfc3339, rfc3339_of_naive_utc

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


NEXT_AFTER = "Pass as `after` for the next page; null when this page is the last"


def page(item: type[Schema], name: str,
         next_after: fields.Field | None = None) -> type[Schema]:
    """The one envelope of every list under ``/v1``: ``{"items": [...], "next_after": ...}``.

    ``next_after`` is an integer cursor unless the list is keyed otherwise (a message id).
    """
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "next_after": next_after or fields.Integer(
            required=True, allow_none=True, metadata={"description": NEXT_AFTER}),
    }, name=name)


class UtcDateTime(fields.DateTime):
    """A time, written exactly as the ledger's leaves write it: RFC 3339 in UTC with ``Z``.

    ``2026-03-01T09:30:00.000000Z``, always six fractional digits, so that a time in
    an answer compares as text with the same time in a leaf. A naive value is UTC,
    as the databases store it.
    """

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return rfc3339_of_naive_utc(value) if value.tzinfo is None else rfc3339(value)


_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class TimeBound(fields.Field):
    """One end of a time range: an RFC 3339 date-time with an offset, or a plain date.

    A plain ``YYYY-MM-DD`` is 00:00Z at the start of that day; as an exclusive upper
    bound (``end=True``: "before") it is 00:00Z at the start of the next day, so that
    ``from=2026-01-01&to=2026-12-31`` takes in the whole year, as the inclusive
    dates of ``/v1/metrics`` do. It loads as an aware datetime in UTC.
    """

    default_error_messages = {
        "invalid": "Not a valid date-time (RFC 3339 with an offset) or date (YYYY-MM-DD).",
        "range": "Out of range: in UTC it must fall within the years 1 to 9999.",
    }

    def __init__(self, *, end: bool = False, **kwargs: Any) -> None:
        metadata = dict(kwargs.pop("metadata", None) or {})
        meaning = ("A plain date YYYY-MM-DD means the end of that day: before 00:00Z of "
                   "the next day." if end else
                   "A plain date YYYY-MM-DD means 00:00Z at the start of that day.")
        given = metadata.get("description")
        metadata["description"] = (f"{given}. " if given else "") + \
            f"An RFC 3339 date-time with an offset, or a date. {meaning}"
        # Both forms, so that the document says exactly what is taken.
        metadata.setdefault("anyOf", [{"type": "string", "format": "date-time"},
                                      {"type": "string", "format": "date"}])
        super().__init__(metadata=metadata, **kwargs)
        self.end = end
        self._moment = fields.AwareDateTime()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if _PLAIN_DATE.fullmatch(value):
            try:
                day = date.fromisoformat(value)
            except ValueError as exc:
                raise self.make_error("invalid") from exc
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if not self.end:
                return start
            if day == date.max:  # the end of 9999-12-31 is as late as a datetime goes
                return datetime.max.replace(tzinfo=UTC)
            return start + timedelta(days=1)
        try:
            moment: datetime = self._moment.deserialize(value)
        except ValidationError as exc:
            raise self.make_error("invalid") from exc
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise self.make_error("range") from exc


EARLIEST_DATE = EARLIEST.date()


def integer(**kwargs: Any) -> fields.Integer:
    """A body's integer: a JSON number with no fraction, not a string or a boolean."""
    return fields.Integer(strict=True, **kwargs)


class Number(fields.Float):
    """A body's number: a JSON number, finite; not a string or a boolean."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) not in (int, float):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """A body's boolean: JSON ``true`` or ``false`` only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


class Date(fields.Date):
    """A body's date: ``YYYY-MM-DD``, not before :data:`EARLIEST_DATE`.

    It dumps as given when it is already ISO text (as stored in JSON details).
    """

    def __init__(self, **kwargs: Any) -> None:
        earliest = validate.Range(min=EARLIEST_DATE,
                                  error=f"Must not be before {EARLIEST_DATE.isoformat()}.")
        metadata = {"description": f"YYYY-MM-DD, not before {EARLIEST_DATE.isoformat()}",
                    **kwargs.pop("metadata", {})}
        super().__init__(validate=[earliest, *_validators(kwargs.pop("validate", None))],
                         metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        # marshmallow takes 2026-1-1 too; the documented form is YYYY-MM-DD.
        if not isinstance(value, str) or not _PLAIN_DATE.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _validators(given: Any) -> list[Any]:
    if given is None:
        return []
    return list(given) if isinstance(given, list | tuple) else [given]
