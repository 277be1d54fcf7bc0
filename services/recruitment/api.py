"""Recruitment's REST API: vacancies and citizens' involvement in filling them."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.recruitment.domain import AREA, OUTCOMES
from shared.area.api import area_blueprint
from shared.area.schemas import AreaSchemas
from shared.fields import Date


class VacancyFields(Schema):
    role = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "The job title, e.g. Support worker"})
    opened_on = Date(required=True)
    closes_on = Date()
    outcome = fields.String(validate=validate.OneOf(OUTCOMES), load_default="open")

    @validates_schema
    def _dates(self, data: dict[str, Any], **_: Any) -> None:
        if "opened_on" in data and "closes_on" in data and data["closes_on"] < data["opened_on"]:
            raise ValidationError("must not be before opened_on", field_name="closes_on")


SCHEMAS = AreaSchemas(AREA, VacancyFields)
blp = area_blueprint(AREA, SCHEMAS, __name__)
BLUEPRINTS = (blp,)
