"""What the ledger accepts: plain Python, no Flask, no database."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared import areas, text
from shared.envelope import (
    ACTIVITY_CANCELLED,
    ACTIVITY_RECORDED,
    ACTIVITY_UPDATED,
    EARLIEST,
    EVENT_TYPES,
    IMPACT_CORRECTED,
    IMPACT_RECORDED,
    INVOLVEMENT_CORRECTED,
    INVOLVEMENT_RECORDED,
    INVOLVEMENT_WITHDRAWN,
    envelope_errors,
    parse_time,
)
from shared.impact import CHANGE_KINDS, OUTCOMES
from shared.involvement import DECISION_POWER, MAX_HOURS, RECOGNITION
from shared.times import rfc3339

# The areas the ledger lists and compares: metrics, dashboard, releases, API filters.
AREAS = areas.names()

class EventRejected(Exception):
    """The event cannot enter the ledger; the message says why."""


@dataclass(frozen=True)
class AcceptedEvent:
    source: str
    id: str
    type: str
    subject: str | None
    area: str
    org_unit: str | None
    pseudonym: str | None
    time: datetime
    canonical: str
    data: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.id)


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is; JSON only (no NaN)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def escaped_json(value: Any) -> str:
    """``value`` as JSON text that any database can store, whatever it holds.

    ASCII only, NUL and lone surrogates escaped, so ``json.loads`` gives back exactly
    what came; a value that is not JSON at all (NaN, a non-string key) is kept as its
    escaped ``repr``. This is how the ledger keeps what it could not accept.
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False)
    except (TypeError, ValueError):
        return text.shown(repr(value))


def key_digest(source: str, event_id: str) -> str:
    """SHA-256 of an exact (source, id) pair written as escaped JSON.

    It names a pair even when its text cannot be stored, and two pairs never share it.
    """
    return hashlib.sha256(escaped_json([source, event_id]).encode()).hexdigest()


def claimed_key(raw: Any) -> tuple[str, str] | None:
    """The (source, id) an event claims, valid or not; None if it claims none."""
    if isinstance(raw, dict) and isinstance(raw.get("source"), str) and isinstance(
            raw.get("id"), str):
        return raw["source"], raw["id"]
    return None


def accept(raw: Any, received_at: datetime) -> AcceptedEvent:
    """Validate one envelope and the parts of its data the ledger indexes."""
    if not isinstance(raw, dict):
        raise EventRejected(f"an event must be a JSON object, got {type(raw).__name__}")
    errors = envelope_errors(raw)
    if errors:
        raise EventRejected(f"invalid CloudEvent: {canonical_json(errors)}")
    event = raw
    if event["type"] not in EVENT_TYPES:
        raise EventRejected(f"unknown event type {event['type']!r}")
    data = event.get("data")
    if not isinstance(data, dict):
        raise EventRejected("data must be a JSON object")
    area = data.get("area")
    # The registry's word, asked of it at each event: a declared area is accepted.
    if area not in areas.names():
        raise EventRejected(f"data.area must be one of {', '.join(areas.names())}")
    org_unit = data.get("org_unit")
    if org_unit is not None and not (isinstance(org_unit, str) and 0 < len(org_unit) <= 256):
        raise EventRejected("data.org_unit must be a string of 1-256 characters")
    _check_data(event["type"], data)
    when = parse_time(event["time"]) if "time" in event else received_at.replace(tzinfo=UTC)
    if when < EARLIEST:
        raise EventRejected(f"time must not be before {rfc3339(EARLIEST)}")
    canonical = _canonical(event)
    pseudonym = data.get("pseudonym")
    return AcceptedEvent(
        source=event["source"],
        id=event["id"],
        type=event["type"],
        subject=event.get("subject"),
        area=area,
        org_unit=org_unit,
        pseudonym=pseudonym if isinstance(pseudonym, str) else None,
        time=when.replace(tzinfo=None),
        canonical=canonical,
        data=data,
    )


def _canonical(event: dict[str, Any]) -> str:
    """The event's canonical JSON, refused if any of its text could not be stored."""
    try:
        canonical = canonical_json(event)
    except ValueError as exc:
        raise EventRejected(f"not JSON: {exc}") from exc
    # The common case, checked cheaply: it encodes, and holds no NUL (which JSON escapes).
    if text.problem(canonical) is None and "\\u0000" not in canonical:
        return canonical
    found = text.problems(event)
    if found:
        raise EventRejected("text that cannot be stored: " + ", ".join(
            f"{path} ({why})" for path, why in found.items()))
    return canonical


def _text(data: dict[str, Any], name: str, limit: int = 64) -> None:
    value = data.get(name)
    if not (isinstance(value, str) and 0 < len(value) <= limit):
        raise EventRejected(f"data.{name} must be a string of 1-{limit} characters")


HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_impact(data: dict[str, Any]) -> None:
    """An impact record's facts: what the measures read, and nothing of its words."""
    _text(data, "impact_id")
    _text(data, "org_unit", 256)
    if data.get("involvement_id") is not None:
        _text(data, "involvement_id")
    if data.get("outcome") not in OUTCOMES:
        raise EventRejected(f"data.outcome must be one of {', '.join(OUTCOMES)}")
    if data.get("change_kind") is not None and data["change_kind"] not in CHANGE_KINDS:
        raise EventRejected(f"data.change_kind must be null or one of {', '.join(CHANGE_KINDS)}")
    if data.get("told_on") is not None:
        told_on(data)
    if not (isinstance(data.get("commitment"), str) and HEX64.fullmatch(data["commitment"])):
        raise EventRejected("data.commitment must be 64 lower-case hex digits")


def told_on(data: dict[str, Any]) -> date | None:
    """The day the citizens were told, from an impact event's data (checked on accept)."""
    value = data.get("told_on")
    if value is None:
        return None
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or day < EARLIEST.date():
        raise EventRejected(f"data.told_on must be null or a date YYYY-MM-DD, not before "
                            f"{EARLIEST.date().isoformat()}")
    return day


def _check_data(type_: str, data: dict[str, Any]) -> None:
    """What the measures read from each type must be there, and of the right kind."""
    _text(data, "activity_id")
    if type_ in (ACTIVITY_RECORDED, ACTIVITY_UPDATED, ACTIVITY_CANCELLED):
        _text(data, "org_unit", 256)
        return
    if type_ in (IMPACT_RECORDED, IMPACT_CORRECTED):
        _check_impact(data)
        return
    _text(data, "involvement_id")
    if type_ == INVOLVEMENT_WITHDRAWN:
        return
    _text(data, "org_unit", 256)
    _text(data, "pseudonym")
    step = data.get("step")
    if not (isinstance(step, int) and not isinstance(step, bool) and 1 <= step <= 7):
        raise EventRejected("data.step must be an integer from 1 to 7")
    hours = data.get("hours")
    # Compared as it came: float() of a 400-digit integer would raise, not refuse it.
    if not (isinstance(hours, int | float) and not isinstance(hours, bool)
            and 0 <= hours <= MAX_HOURS):
        raise EventRejected(f"data.hours must be a number from 0 to {MAX_HOURS}")
    if data.get("recognition") not in RECOGNITION:
        raise EventRejected(f"data.recognition must be one of {', '.join(RECOGNITION)}")
    if data.get("decision_power") not in DECISION_POWER:
        raise EventRejected(f"data.decision_power must be one of {', '.join(DECISION_POWER)}")
    if not isinstance(data.get("feedback_given"), bool):
        raise EventRejected("data.feedback_given must be true or false")
    _text(data, "rubric_version", 32)
    if type_ not in (INVOLVEMENT_RECORDED, INVOLVEMENT_CORRECTED):
        raise EventRejected(f"unhandled type {type_}")
