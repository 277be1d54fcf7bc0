"""What the ledger accepts: plain Python, no Flask, no database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from shared.envelope import EVENT_TYPES, CloudEventSchema, parse_time

AREAS = ("recruitment", "training", "inspection")

_schema = CloudEventSchema()


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
    time: datetime
    canonical: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.id)


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def accept(raw: Any, received_at: datetime) -> AcceptedEvent:
    """Validate one envelope and the parts of its data the ledger indexes."""
    if not isinstance(raw, dict):
        raise EventRejected(f"an event must be a JSON object, got {type(raw).__name__}")
    try:
        event = _schema.load(raw)
    except ValidationError as exc:
        raise EventRejected(f"invalid CloudEvent: {canonical_json(exc.messages)}") from exc
    if event["type"] not in EVENT_TYPES:
        raise EventRejected(f"unknown event type {event['type']!r}")
    data = event.get("data")
    if not isinstance(data, dict):
        raise EventRejected("data must be a JSON object")
    area = data.get("area")
    if area not in AREAS:
        raise EventRejected(f"data.area must be one of {', '.join(AREAS)}")
    org_unit = data.get("org_unit")
    if org_unit is not None and not (isinstance(org_unit, str) and 0 < len(org_unit) <= 256):
        raise EventRejected("data.org_unit must be a string of 1-256 characters")
    when = parse_time(event["time"]).replace(tzinfo=None) if "time" in event else received_at
    return AcceptedEvent(
        source=event["source"],
        id=event["id"],
        type=event["type"],
        subject=event.get("subject"),
        area=area,
        org_unit=org_unit,
        time=when,
        canonical=canonical_json(event),
    )
