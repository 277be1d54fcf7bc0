"""An area's request schemas as HTML forms, and a form's answers back as the request body
the API takes: the recording pages (shared/area/recording.py) ask for what the API asks
for, and the same schema checks it.

A form sends text; the API takes JSON types. So a number is read as one, yes or no as a
boolean, and a date as the GOV.UK date input asks for it (day, month, year, each its own
box) is written as the API writes it. Anything that does not read is left as it was
sent, for the schema to refuse, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, fields, validate
from werkzeug.datastructures import MultiDict

from shared.pages import DATE_PARTS, NotADate, date_from_parts

# The time a member of staff gives is the time on the clocks where they work.
LOCAL = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # text, choice, number, flag, date or moment
    required: bool
    hint: str = ""
    choices: tuple[str, ...] = ()

    def parts(self) -> tuple[str, ...]:
        """The form's own names for this field's boxes."""
        if self.kind == "date":
            return tuple(f"{self.name}-{p}" for p in DATE_PARTS)
        if self.kind == "moment":
            return (*(f"{self.name}-{p}" for p in DATE_PARTS), f"{self.name}-time")
        return (self.name,)


def label_of(name: str) -> str:
    """``decision_power``: "Decision power"; ``org_unit``: "Organisational unit"."""
    return {"org_unit": "Organisational unit", "citizen_ref": "Citizen's reference",
            "occurred_at": "When it happened"}.get(name, name.replace("_", " ").capitalize())


def choice_label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _kind(field: fields.Field) -> tuple[str, tuple[str, ...]]:
    validators = field.validators if isinstance(field.validators, list) else []
    for v in validators:
        if isinstance(v, validate.OneOf):
            return "choice", tuple(str(c) for c in v.choices)
    if isinstance(field, fields.AwareDateTime):
        return "moment", ()
    if isinstance(field, fields.Date):
        return "date", ()
    if isinstance(field, fields.Boolean):
        return "flag", ()
    if isinstance(field, fields.Number):
        return "number", ()
    return "text", ()


def form_fields(schema: type[Schema], leave_out: tuple[str, ...] = ("id",)) -> list[Field]:
    """The fields a person fills in, in the schema's order; what the API makes itself
    (an id) left out."""
    found = []
    for name, field in schema().fields.items():
        if name in leave_out or field.dump_only:
            continue
        kind, choices = _kind(field)
        hint = str(field.metadata.get("description", ""))
        if kind == "moment":
            hint = ("Leave empty for now. The time is UK time, 24-hour, as 14:30; without "
                    "it, noon.")
        found.append(Field(name, label_of(name), kind, field.required, hint, choices))
    return found


def _date(form: MultiDict[str, str], name: str) -> str | None:
    """A date's three boxes as ``YYYY-MM-DD``, or as sent when they do not make one."""
    try:
        return date_from_parts(form, name)
    except NotADate:
        return "-".join(form.get(f"{name}-{p}", "").strip() for p in reversed(DATE_PARTS))


def _moment(form: MultiDict[str, str], name: str) -> str | None:
    """A date and an optional UK time as RFC 3339, in UTC; as sent when they do not
    make one."""
    day = _date(form, name)
    if day is None:
        return None
    clock = form.get(f"{name}-time", "").strip() or "12:00"
    try:
        local = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=LOCAL)
    except ValueError:
        return f"{day}T{clock}"
    return local.isoformat()


def _number(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def body_of(fields_: list[Field], form: MultiDict[str, str]) -> dict[str, Any]:
    """A form's answers as the API's request body: empty answers left out."""
    body: dict[str, Any] = {}
    for field in fields_:
        value: Any
        if field.kind == "date":
            value = _date(form, field.name)
        elif field.kind == "moment":
            value = _moment(form, field.name)
        else:
            text = form.get(field.name, "").strip()
            value = None if not text else (
                _number(text) if field.kind == "number" else
                {"yes": True, "no": False}.get(text, text) if field.kind == "flag" else text)
        if value is not None:
            body[field.name] = value
    return body


def shown(fields_: list[Field], form: MultiDict[str, str]) -> dict[str, str]:
    """What each box held, to show the form again as it was sent."""
    return {part: form.get(part, "") for field in fields_ for part in field.parts()}
