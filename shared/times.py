"""Moments, one way each: naive UTC in the tables, RFC 3339 with ``Z`` in events and answers.

Every table stores a moment as a naive datetime in UTC; code that reads the clock for a
row asks :func:`naive_utcnow`, and a bound a client gave with an offset goes through
:func:`as_naive_utc` before it meets a column.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def naive_utcnow() -> datetime:
    """Now, in UTC without a zone: how every table stores a moment."""
    return datetime.now(UTC).replace(tzinfo=None)


@overload
def as_naive_utc(moment: datetime) -> datetime: ...
@overload
def as_naive_utc(moment: None) -> None: ...
def as_naive_utc(moment: datetime | None) -> datetime | None:
    """An aware moment (or ``None``) in UTC without its zone, to compare with a column."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment is not None else None


def rfc3339(moment: datetime) -> str:
    """An aware moment in any zone as RFC 3339 in UTC: six fractional digits and ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def rfc3339_of_naive_utc(moment: datetime) -> str:
    """A naive UTC moment, as the tables hold it, as RFC 3339: six fractional digits and ``Z``.

    The same text :func:`rfc3339` gives for the aware moment; it skips the zone
    arithmetic, which writing every leaf of an export feels.
    """
    return moment.isoformat(timespec="microseconds") + "Z"
