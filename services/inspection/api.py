"""Inspection's REST API: inspections and Experts by Experience's contributions to them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.inspection.domain import AREA, PHASES, RATINGS, SERVICE_TYPES
from shared.area.api import area_blueprint
from shared.area.schemas import AreaSchemas
from shared.fields import Date, integer


class InspectionFields(Schema):
    location = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "The location or service inspected"})
    service_type = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES))
    planned_on = Date(required=True)
    phase = fields.String(validate=validate.OneOf(PHASES), load_default="planning")
    rating = fields.String(validate=validate.OneOf(RATINGS), allow_none=True)


SCHEMAS = AreaSchemas(AREA, InspectionFields, involvement_extras={
    "interviews_count": integer(
        load_default=0, validate=validate.Range(min=0, max=1000),
        metadata={"description": "People who use the service interviewed (interviews stage)"}),
})
blp = area_blueprint(AREA, SCHEMAS, __name__)
BLUEPRINTS = (blp,)
