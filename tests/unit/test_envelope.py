"""The CloudEvents 1.0 envelope schema."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from shared.envelope import (
    INVOLVEMENT_RECORDED,
    CloudEventSchema,
    envelope_errors,
    new_event,
    parse_time,
)


def _event(**changes: Any) -> dict[str, Any]:
    event = new_event(type=INVOLVEMENT_RECORDED, source="/ladder/recruitment", subject="v1",
                      data={"area": "recruitment"})
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def test_a_new_event_is_a_valid_cloudevent() -> None:
    event = _event()
    assert CloudEventSchema().load(event) == event
    assert event["specversion"] == "1.0" and event["time"].endswith("Z")


@pytest.mark.parametrize("missing", ["id", "source", "type", "specversion"])
def test_required_attributes_are_required(missing: str) -> None:
    with pytest.raises(ValidationError) as error:
        CloudEventSchema().load(_event(**{missing: None}))
    assert missing in error.value.messages


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
    with pytest.raises(ValidationError) as error:
        CloudEventSchema().load(_event(**changes))
    assert field in error.value.messages


def test_extensions_are_kept() -> None:
    assert CloudEventSchema().load(_event(partition="7"))["partition"] == "7"


def test_times_with_offsets_become_utc() -> None:
    assert parse_time("2026-02-10T09:00:00+01:00").hour == 8
    assert parse_time("2026-02-10T09:00:00z").hour == 9


_names = st.sampled_from(["specversion", "id", "source", "type", "datacontenttype",
                          "dataschema", "subject", "time", "data", "partition", "Bad-Name",
                          "x" * 21])
_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.just(""), st.just("1.0"), st.just("x" * 513),
    st.sampled_from(["2026-01-01T10:00:00Z", "2026-01-01T10:00:00", "yesterday"]),
    st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@given(st.dictionaries(_names, _values, max_size=8), st.booleans())
def test_the_plain_check_and_the_schema_agree(changes: dict[str, Any], start_valid: bool) -> None:
    event = {**(_event() if start_valid else {}), **changes}
    mine = envelope_errors(event)
    theirs = CloudEventSchema().validate(event)
    assert bool(mine) == bool(theirs), (mine, theirs)
    # The schema skips its whole-event checks once a field fails; the plain check does not.
    assert set(theirs) <= set(mine)
