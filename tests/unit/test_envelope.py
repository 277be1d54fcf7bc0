"""The CloudEvents 1.0 envelope check."""

from __future__ import annotations

from typing import Any

import pytest

from shared.envelope import INVOLVEMENT_RECORDED, envelope_errors, new_event, parse_time


def _event(**changes: Any) -> dict[str, Any]:
    event = new_event(type=INVOLVEMENT_RECORDED, source="/ladder/recruitment", subject="v1",
                      data={"area": "recruitment"})
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def test_a_new_event_is_a_valid_cloudevent() -> None:
    event = _event()
    assert envelope_errors(event) == {}
    assert event["specversion"] == "1.0" and event["time"].endswith("Z")


@pytest.mark.parametrize("missing", ["id", "source", "type", "specversion"])
def test_required_attributes_are_required(missing: str) -> None:
    assert missing in envelope_errors(_event(**{missing: None}))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"id": ""}, "id"),
        ({"time": "yesterday"}, "time"),
        ({"time": "2026-01-01T10:00:00"}, "time"),
        ({"Bad-Name": "x"}, "Bad-Name"),
        ({"traceparent": {"nested": True}}, "traceparent"),
    ],
)
def test_invalid_attributes_are_named(changes: dict[str, Any], field: str) -> None:
    assert field in envelope_errors(_event(**changes))


def test_extensions_are_allowed() -> None:
    assert envelope_errors(_event(partition="7", sequence=3, sampled=True)) == {}


def test_times_with_offsets_become_utc() -> None:
    assert parse_time("2026-02-10T09:00:00+01:00").hour == 8
    assert parse_time("2026-02-10T09:00:00z").hour == 9

