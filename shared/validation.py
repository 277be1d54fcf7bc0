"""A quicker ``Schema.load`` for the input a batch is mostly made of: plainly valid.

Loading a CloudEvents batch of a thousand commands through marshmallow costs more
than applying them. Most such input needs no conversion at all: each value
already has its field's Python type. ``fast_loader`` checks that case with a plain
loop, running the fields' own validators, and returns what ``schema.load`` would.
A field of another kind (a date and time, as every CloudEvent's ``occurred_at`` is)
converts its value itself, through its public ``Field.deserialize``, as
``schema.load`` has it do. Anything else (a missing or unknown field, a value a
validator or a conversion refuses) goes to ``schema.load`` itself, so error messages
stay marshmallow's, from the one schema that also documents the API.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing

from shared.fields import Flag, Number

Loader = Callable[[Any], Any]

# Field classes (exactly these, not subclasses) whose load of a value of the given
# Python types returns the value unchanged, or for Float as a float.
PLAIN: dict[type[fields.Field], tuple[type, ...]] = {
    fields.String: (str,),
    fields.Boolean: (bool,),
    Flag: (bool,),
    fields.Integer: (int,),
    fields.Float: (int, float),
    Number: (int, float),
}


class _Field:
    __slots__ = ("name", "field", "types", "required", "validators", "is_float")

    def __init__(self, name: str, field: fields.Field, partial: bool) -> None:
        self.name = name
        self.field = field
        self.types = PLAIN.get(type(field), ())
        # A default to fill in is marshmallow's to fill: only the present case is fast.
        self.required = not partial and (field.required or field.load_default is not missing)
        self.validators = list(field.validators)
        self.is_float = type(field) in (fields.Float, Number)


def _plan(schema: Schema) -> list[_Field] | None:
    # Any decorated hook (pre_load, validates, validates_schema, post_load) is
    # marshmallow's to run: resolve_hooks() lists them, as the schema class did.
    if any(type(schema).resolve_hooks().values()) or schema.many:
        return None
    if schema.partial not in (False, None, True):
        return None
    plan = []
    for name, field in schema.load_fields.items():
        if field.data_key not in (None, name) or field.attribute not in (None, name):
            return None
        if isinstance(field, fields.Number) and field.as_string:
            return None
        if isinstance(field, fields.Nested | fields.List | fields.Dict | fields.Tuple):
            return None  # their inner schemas take the load's arguments (partial)
        plan.append(_Field(name, field, schema.partial is True))
    return plan


def fast_loader(schema: Schema) -> Loader:
    """``schema.load``, quicker for input that is plainly valid; see the module."""
    plan = _plan(schema)
    if plan is None:
        return schema.load
    names = {f.name for f in plan}

    def load(data: Any) -> Any:
        if type(data) is not dict or not data.keys() <= names:
            return schema.load(data)
        result: dict[str, Any] = {}
        for f in plan:
            if f.name not in data:
                if f.required:
                    return schema.load(data)
                continue
            value = data[f.name]
            if not f.types:
                try:  # converts and validates, as schema.load has the field do
                    value = f.field.deserialize(value, f.name, data)
                except ValidationError:
                    return schema.load(data)
                if value is not missing:  # as schema.load leaves it out
                    result[f.name] = value
                continue
            if type(value) not in f.types:
                return schema.load(data)
            if f.is_float:
                value = float(value)
                if not math.isfinite(value):
                    return schema.load(data)
            # marshmallow 4 ignores what a validator returns: only a raise refuses.
            for validator in f.validators:
                try:
                    validator(value)
                except ValidationError:
                    return schema.load(data)
            result[f.name] = value
        return result

    return load
