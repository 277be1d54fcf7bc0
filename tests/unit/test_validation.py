"""The fast loader answers exactly as the marshmallow schema it stands in for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services import area_packages
from shared import areas
from shared.validation import fast_loader
from tests.support.areas import involvement

SCHEMAS = {name: area_packages.part(name, "api").SCHEMAS for name in areas.names()}

# Values of every kind the fields meet: right, wrong, convertible, out of range.
VALUES = st.one_of(
    st.sampled_from(["interview_panel", "panel_member", "co_trainer", "observation",
                     "expert_by_experience", "payment", "none", "advisory", "lead",
                     "duplicate", "", "x" * 300, "2026-01-01T00:00:00Z", "true", "1.5",
                     # Dates and times, which the loader has their own fields convert.
                     "2026-01-01T09:30:00+01:00", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z",
                     "2026-01-01", "1999-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
                     "2026-01-01T00:00:00.123456789Z"]),
    st.booleans(), st.integers(-5, 2000), st.floats(allow_nan=True, allow_infinity=True),
    st.none(), st.lists(st.integers(), max_size=2), st.text(max_size=5))


def _outcome(load: Any, data: Any) -> tuple[str, Any]:
    try:
        return "ok", load(data)
    except ValidationError as exc:
        return "error", exc.normalized_messages()


def _schemas(area: str) -> list[Schema]:
    s = SCHEMAS[area]
    return [s.involvement_in(), s.correction(), s.activity_in(), s.activity_patch]


@pytest.mark.parametrize("area", SCHEMAS)
def test_a_valid_involvement_loads_to_what_marshmallow_loads(area: str) -> None:
    schema = SCHEMAS[area].involvement_in()
    body = {**involvement(area), "hours": 3}
    fast = fast_loader(schema)(body)
    assert fast == schema.load(body)
    assert isinstance(fast["hours"], float)


@pytest.mark.parametrize("area", SCHEMAS)
@given(data=st.data())
def test_any_command_data_loads_or_fails_exactly_as_marshmallow_says(
        area: str, data: st.DataObject) -> None:
    for schema in _schemas(area):
        base = involvement(area)
        names = sorted(set(schema.load_fields) | set(base) | {"unknown"})
        changes = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=4))
        dropped = data.draw(st.sets(st.sampled_from(sorted(base)), max_size=2))
        body = {k: v for k, v in {**base, **changes}.items() if k not in dropped}
        assert _outcome(fast_loader(schema), body) == _outcome(schema.load, body)


def test_a_schema_with_hooks_or_renamed_fields_is_left_to_marshmallow() -> None:
    class Checked(Schema):
        a = fields.String()

        @validates_schema
        def check(self, data: dict[str, Any], **_: Any) -> None:
            raise ValidationError("never")

    renamed = Schema.from_dict({"a": fields.String(data_key="b")})()
    assert _outcome(fast_loader(Checked()), {"a": "x"}) == ("error", {"_schema": ["never"]})
    assert _outcome(fast_loader(renamed), {"b": "x"}) == ("ok", {"a": "x"})


def test_a_validator_returning_false_answers_as_marshmallow_does() -> None:
    schema = Schema.from_dict({"a": fields.Integer(validate=lambda v: v < 3),
                               "b": fields.String(validate=validate.Length(max=2))})()
    load = fast_loader(schema)
    assert _outcome(load, {"a": 5}) == _outcome(schema.load, {"a": 5})
    assert _outcome(load, {"a": 1, "b": "abc"}) == _outcome(schema.load, {"a": 1, "b": "abc"})
    assert load({"a": 1, "b": "ab"}) == {"a": 1, "b": "ab"}
