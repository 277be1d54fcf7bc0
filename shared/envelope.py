"""The CloudEvents 1.0 envelope (structured JSON mode) that services and ledger exchange."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.ids import new_id
from shared.times import rfc3339

EVENT_TYPE_PREFIX = "org.ladder."
ACTIVITY_RECORDED = EVENT_TYPE_PREFIX + "activity.recorded"
ACTIVITY_UPDATED = EVENT_TYPE_PREFIX + "activity.updated"
ACTIVITY_CANCELLED = EVENT_TYPE_PREFIX + "activity.cancelled"
INVOLVEMENT_RECORDED = EVENT_TYPE_PREFIX + "involvement.recorded"
INVOLVEMENT_CORRECTED = EVENT_TYPE_PREFIX + "involvement.corrected"
INVOLVEMENT_WITHDRAWN = EVENT_TYPE_PREFIX + "involvement.withdrawn"
# "You said, we did": what came of an involvement or an activity, as structured facts.
IMPACT_RECORDED = EVENT_TYPE_PREFIX + "impact.recorded"
IMPACT_CORRECTED = EVENT_TYPE_PREFIX + "impact.corrected"
EVENT_TYPES = (
    ACTIVITY_RECORDED,
    ACTIVITY_UPDATED,
    ACTIVITY_CANCELLED,
    INVOLVEMENT_RECORDED,
    INVOLVEMENT_CORRECTED,
    INVOLVEMENT_WITHDRAWN,
    IMPACT_RECORDED,
    IMPACT_CORRECTED,
)

# The earliest time an event may carry, and any intake takes: nothing Ladder measures
# is older, and a time before it is a mistake (year 1, or a Unix time of 0 or less).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

# CloudEvents 1.0, section 2.3: an Integer is a 32-bit signed whole number.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# CloudEvents 1.0 §3.1.1: extension names are lower-case letters and digits.
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_REQUIRED = ("specversion", "id", "source", "type")
_OPTIONAL_TEXT = ("datacontenttype", "dataschema", "subject")


def envelope_errors(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every way ``event`` breaks CloudEvents 1.0 structured mode, by attribute; {} if none.

    Plain Python, not a marshmallow schema: every event of every batch passes here,
    in the services and again in the ledger, and a schema load cost ten times as much.
    The messages have marshmallow's shape, so errors read alike everywhere.
    """
    errors: dict[str, list[str]] = {}
    for name in _REQUIRED:
        if name not in event or event[name] is None:
            errors[name] = ["Missing data for required field."]
    for name, value in event.items():
        if name in _REQUIRED or name in _OPTIONAL_TEXT:
            if value is None and name in errors:
                continue
            if not isinstance(value, str):
                errors[name] = ["Not a valid string."]
            elif name == "specversion" and value != "1.0":
                errors[name] = ["Must be equal to 1.0."]
            elif not 0 < len(value) <= 512:
                errors[name] = ["Length must be between 1 and 512."]
        elif name == "time":
            if not isinstance(value, str):
                errors[name] = ["Not a valid string."]
            else:
                try:
                    parse_time(value)
                except ValueError:
                    errors[name] = ["Not an RFC 3339 timestamp."]
        elif name == "data":
            continue
        elif not _EXTENSION_NAME.match(name):
            errors[name] = ["Extension names are 1-20 lower-case letters or digits."]
        elif not isinstance(value, str | int | bool):
            errors[name] = ["Extension values are strings, integers or booleans."]
        elif isinstance(value, int) and not isinstance(value, bool) and not (
                INT32_MIN <= value <= INT32_MAX):
            errors[name] = ["Extension integers are 32-bit (CloudEvents 1.0, section 2.3)."]
        elif isinstance(value, str) and len(value) > 512:
            errors[name] = ["Length must be at most 512."]
    return errors


def parse_time(value: Any) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    if not isinstance(value, str) or "T" not in value.upper():
        raise ValueError("not an RFC 3339 timestamp")
    parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("RFC 3339 timestamps carry an offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError("out of range: in UTC it falls outside the years 1 to 9999") from exc


def new_event(
    *,
    type: str,
    source: str,
    subject: str,
    data: dict[str, Any],
    time: datetime | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """A structured-mode CloudEvent, ready for the outbox."""
    return {
        "specversion": "1.0",
        "id": id or new_id(),
        "source": source,
        "type": type,
        "subject": subject,
        "time": rfc3339(time or datetime.now(UTC)),
        "datacontenttype": "application/json",
        "data": data,
    }
